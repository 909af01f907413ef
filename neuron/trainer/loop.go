package trainer

import (
	"context"
	"fmt"
	"path/filepath"
)

// Train runs epochs until cfg.Epochs are complete, testing after each one,
// saving the best model to BestCheckpoint and the state to LastCheckpoint.
// When ctx ends it saves LastCheckpoint (the unfinished epoch is run again on
// resume) and returns nil: stopping is not a failure.
func (t *Trainer) Train(ctx context.Context, train, test Batches) error {
	if t.epoch >= t.cfg.Epochs {
		t.cfg.Log.Info().Int("epoch", t.epoch).Msgf("%d epochs done already; raise --epochs to train on", t.epoch)
	}
	for t.epoch < t.cfg.Epochs {
		if err := t.trainEpoch(ctx, train, test); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return t.stop()
		}
		res, err := t.Test(ctx, test)
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return t.stop()
		}
		t.cfg.Log.Info().Int("epoch", t.epoch).Float64("loss", res.Loss).
			Float64("local_accuracy", res.LocalAccuracy).Float64("network_accuracy", res.NetworkAccuracy).
			Msgf("Test Epoch: %d\tLoss: %.6f\tLocal Accuracy: %.2f%%\tNetwork Accuracy: %.2f%%",
				t.epoch, res.Loss, 100*res.LocalAccuracy, 100*res.NetworkAccuracy)
		if o := t.net.Observer; o != nil {
			o.ObserveTest(t.epoch, res)
		}
		t.epoch++
		if res.Loss < t.bestLoss {
			t.bestLoss = res.Loss
			if err := t.Save(filepath.Join(t.dir, BestCheckpoint)); err != nil {
				return err
			}
		}
		if err := t.Save(filepath.Join(t.dir, LastCheckpoint)); err != nil {
			return err
		}
	}
	return nil
}

// stop saves the state on a requested stop.
func (t *Trainer) stop() error {
	path := filepath.Join(t.dir, LastCheckpoint)
	if err := t.Save(path); err != nil {
		return err
	}
	t.cfg.Log.Info().Str("checkpoint", path).Int("epoch", t.epoch).Msg("stopped; resume with --model_path")
	return nil
}

// trainEpoch runs one pass over train; with cfg.TestEvery it also tests
// every TestEvery steps, counted from the first step of the first epoch.
func (t *Trainer) trainEpoch(ctx context.Context, train, test Batches) error {
	if p := t.cfg.Progress; p != nil {
		p.StartEpoch(t.epoch, train.Len())
		defer p.EndEpoch()
	}
	seen, step := 0, 0
	t.steps = t.epoch * train.Len() // a resumed run reruns its unfinished epoch
	for b := range train.Epoch(ctx, t.epoch) {
		size := int(b.Inputs.Size(0)) // before Step frees the batch
		res, err := t.Step(ctx, b)
		if err != nil {
			return err
		}
		if res.Skipped {
			t.cfg.Log.Warn().Int("epoch", t.epoch).Int("seen", seen).Float64("local_loss", res.LocalLoss).
				Float64("target_loss", res.TargetLoss).Float64("distillation_loss", res.DistillationLoss).
				Msg("skipped a training step: its loss is not finite")
		}
		if step%t.cfg.LogInterval == 0 {
			t.logStep(seen, train.Examples(), res)
		}
		step++
		seen += size
		if p := t.cfg.Progress; p != nil {
			p.Step()
		}
		if n := t.cfg.TestEvery; n > 0 && ctx.Err() == nil {
			if steps := t.epoch*train.Len() + step; steps%n == 0 {
				if err := t.testAtStep(ctx, test, steps); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// testAtStep tests in the middle of an epoch and logs the result with the
// number of steps trained so far (epochs completed × batches per epoch +
// steps into this one). Testing changes nothing that training sees.
func (t *Trainer) testAtStep(ctx context.Context, test Batches, steps int) error {
	res, err := t.Test(ctx, test)
	if err != nil || ctx.Err() != nil {
		return err
	}
	t.cfg.Log.Info().Int("epoch", t.epoch).Int("step", steps).Float64("loss", res.Loss).
		Float64("local_accuracy", res.LocalAccuracy).Float64("network_accuracy", res.NetworkAccuracy).
		Msgf("Test Step: %d\tLoss: %.6f\tLocal Accuracy: %.2f%%\tNetwork Accuracy: %.2f%%",
			steps, res.Loss, 100*res.LocalAccuracy, 100*res.NetworkAccuracy)
	return nil
}

// logStep writes the seed's training line. Its fields add the synapses the
// step routed to, the definitions the Metagraph holds (fitting or not), the
// requests the Axon served and those it refused as not fitting its synapse
// (UNIMPLEMENTED: another modality; INVALID_ARGUMENT: other inputs).
func (t *Trainer) logStep(seen, total int, r StepResult) {
	var requests, unfit uint64
	if t.net.Served != nil {
		requests, unfit = t.net.Served()
	}
	t.cfg.Log.Info().Int("epoch", t.epoch).Int("seen", seen).
		Float64("local_loss", r.LocalLoss).Float64("target_loss", r.TargetLoss).
		Float64("distillation_loss", r.DistillationLoss).Int("peers", r.Peers).Int("synapses", r.Synapses).
		Int("failed", r.Failed).Strs("routed", r.Routed).
		Int("definitions", len(t.net.Metagraph.GetSynapses(maxSynapses))).
		Uint64("axon_requests", requests).Uint64("axon_unfit", unfit).
		Msgf("Train Epoch: %d [%d/%d (%.0f%%)]\tLocal Loss: %.6f\tTarget Loss: %.6f\tDistillation Loss: %.6f\tnP|nS: %d|%d",
			t.epoch, seen, total, 100*float64(seen)/float64(total),
			r.LocalLoss, r.TargetLoss, r.DistillationLoss, r.Peers, r.Synapses)
}

// Serve trains the served model from the network alone until ctx ends, for
// a neuron with no training data of its own: each time callers' gradients
// wait, it applies them with the optimizer. When ctx ends it saves
// LastCheckpoint and returns nil.
func (t *Trainer) Serve(ctx context.Context) error {
	remote := t.synapse.RemoteGrads()
	t.cfg.Log.Info().Msg("serving only: the model learns from its callers' gradients")
	for {
		select {
		case <-ctx.Done():
			return t.stop()
		case <-remote.Pending():
		}
		err := t.synapse.Update(func() error {
			if err := t.opt.ZeroGrad(); err != nil {
				return err
			}
			n, err := remote.Apply()
			if err != nil || n == 0 {
				return err
			}
			if err := t.stepOptimizer(); err != nil {
				return err
			}
			return t.opt.ZeroGrad()
		})
		if err != nil {
			return fmt.Errorf("trainer: serve: %w", err)
		}
	}
}
