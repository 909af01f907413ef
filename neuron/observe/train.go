package observe

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Step reports one training step to an Observer.
type Step struct {
	// Epoch is the epoch the step belongs to; Examples the batch size;
	// Elapsed the step's wall time.
	Epoch, Examples int
	Elapsed         time.Duration
	// LocalLoss, TargetLoss and DistillationLoss are the step's three losses
	// (not finite for a skipped step, possibly).
	LocalLoss, TargetLoss, DistillationLoss float64
	// Peers, Synapses and Failed are the live peers, the synapses the step
	// could route to, and its failed calls.
	Peers, Synapses, Failed int
	// Skipped reports a step whose loss was not finite and changed nothing.
	Skipped bool
}

// Test reports a pass over the test set after an epoch.
type Test struct {
	Epoch                                int
	Loss, LocalAccuracy, NetworkAccuracy float64
}

// trainMetrics are the training loop's metrics.
type trainMetrics struct {
	steps, skipped, examplesTotal prometheus.Counter
	loss                          *prometheus.GaugeVec // loss
	examplesPerSec, epoch         prometheus.Gauge
	stepDuration                  prometheus.Histogram
	testLoss                      prometheus.Gauge
	testAccuracy                  *prometheus.GaugeVec // path
}

func newTrainMetrics(reg prometheus.Registerer) *trainMetrics {
	m := &trainMetrics{
		steps: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bittensor_train_steps_total", Help: "Training steps run, skipped ones included."}),
		skipped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bittensor_train_skipped_steps_total", Help: "Training steps skipped because their loss was not finite."}),
		examplesTotal: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bittensor_train_examples_total", Help: "Training examples seen."}),
		loss: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "bittensor_train_loss",
			Help: "The latest training step's losses: local (local target), target (network target), distillation.",
		}, []string{"loss"}),
		examplesPerSec: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "bittensor_train_examples_per_second", Help: "Examples per second of the latest training step."}),
		epoch: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "bittensor_train_epoch", Help: "The epoch being trained."}),
		stepDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "bittensor_train_step_duration_seconds", Help: "Wall time of a training step.",
			Buckets: latencyBuckets}),
		testLoss: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "bittensor_test_loss", Help: "Mean loss per example of the latest test pass."}),
		testAccuracy: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "bittensor_test_accuracy",
			Help: "Accuracy of the latest test pass, by path: local (the student's context) or network.",
		}, []string{"path"}),
	}
	reg.MustRegister(m.steps, m.skipped, m.examplesTotal, m.loss, m.examplesPerSec, m.epoch,
		m.stepDuration, m.testLoss, m.testAccuracy)
	return m
}

// examples returns the training examples seen so far.
func (m *trainMetrics) examples() float64 { return sum(gather(m.examplesTotal)) }

// stepPoint is one point of the training curves on the page.
type stepPoint struct {
	T              int64  `json:"t"`
	Step           uint64 `json:"step"`
	Epoch          int    `json:"epoch"`
	Local          number `json:"local"`
	Target         number `json:"target"`
	Distillation   number `json:"distillation"`
	ExamplesPerSec number `json:"examples_per_sec"`
	Failed         int    `json:"failed"`
	Skipped        bool   `json:"skipped,omitempty"`
}

// testPoint is one test result on the page.
type testPoint struct {
	T               int64  `json:"t"`
	Epoch           int    `json:"epoch"`
	Loss            number `json:"loss"`
	LocalAccuracy   number `json:"local_accuracy"`
	NetworkAccuracy number `json:"network_accuracy"`
}

// throughputPoint is one throughput sample on the page: rates over the
// SampleEvery before T.
type throughputPoint struct {
	T              int64  `json:"t"`
	ExamplesPerSec number `json:"examples_per_sec"`
	RequestsPerSec number `json:"requests_per_sec"`
	BytesInPerSec  number `json:"bytes_in_per_sec"`
	BytesOutPerSec number `json:"bytes_out_per_sec"`
	CallsPerSec    number `json:"calls_per_sec"`
}

// Step records a training step.
func (o *Observer) Step(s Step) {
	m := o.train
	m.steps.Inc()
	if s.Skipped {
		m.skipped.Inc()
	}
	m.examplesTotal.Add(float64(max(s.Examples, 0)))
	m.loss.WithLabelValues("local").Set(s.LocalLoss)
	m.loss.WithLabelValues("target").Set(s.TargetLoss)
	m.loss.WithLabelValues("distillation").Set(s.DistillationLoss)
	m.epoch.Set(float64(s.Epoch))
	var rate float64
	if s.Elapsed > 0 {
		rate = float64(s.Examples) / s.Elapsed.Seconds()
		m.examplesPerSec.Set(rate)
	}
	m.stepDuration.Observe(s.Elapsed.Seconds())

	o.mu.Lock()
	defer o.mu.Unlock()
	p := stepPoint{
		T: millis(o.now()), Step: o.steps.added, Epoch: s.Epoch,
		Local: number(s.LocalLoss), Target: number(s.TargetLoss), Distillation: number(s.DistillationLoss),
		ExamplesPerSec: number(rate), Failed: s.Failed, Skipped: s.Skipped,
	}
	o.steps.add(p)
	o.last = &p
}

// Test records a test pass.
func (o *Observer) Test(t Test) {
	o.train.testLoss.Set(t.Loss)
	o.train.testAccuracy.WithLabelValues("local").Set(t.LocalAccuracy)
	o.train.testAccuracy.WithLabelValues("network").Set(t.NetworkAccuracy)
	o.mu.Lock()
	defer o.mu.Unlock()
	o.tests.add(testPoint{T: millis(o.now()), Epoch: t.Epoch, Loss: number(t.Loss),
		LocalAccuracy: number(t.LocalAccuracy), NetworkAccuracy: number(t.NetworkAccuracy)})
}
