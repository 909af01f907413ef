package optim

// LinearWarmup is a learning-rate schedule: over the first Steps optimizer
// steps the rate rises linearly from LR/Steps to LR, and then stays at LR.
// It is PyTorch's LinearLR(opt, start_factor=1/Steps, end_factor=1,
// total_iters=Steps-1) stepped once after each optimizer step. Steps below
// 2 is no warm-up: the rate is LR from the first step.
//
//	w := optim.LinearWarmup{LR: 1e-4, Steps: 100}
//	for step := 0; ; step++ {
//		opt.SetLR(w.At(step))
//		…
//		opt.Step()
//	}
type LinearWarmup struct {
	// LR is the rate after the warm-up.
	LR float64
	// Steps is the number of optimizer steps the warm-up lasts.
	Steps int
}

// At returns the learning rate of optimizer step step, counted from 0
// (a negative step counts as 0).
func (w LinearWarmup) At(step int) float64 {
	if w.Steps < 2 || step+1 >= w.Steps {
		return w.LR
	}
	return w.LR * float64(max(step, 0)+1) / float64(w.Steps)
}
