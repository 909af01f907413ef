package trainer

// Progress follows a training loop, e.g. to draw a progress bar. Its methods
// are called from the training goroutine only.
type Progress interface {
	// StartEpoch begins epoch number epoch, which has steps steps.
	StartEpoch(epoch, steps int)
	// Step reports one more step done in the current epoch.
	Step()
	// EndEpoch ends the current epoch.
	EndEpoch()
}
