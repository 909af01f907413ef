//go:build race

package axon_test

// raceEnabled reports a build with the race detector, whose shadow memory and
// disabled sync.Pool caches change how much memory a test takes.
const raceEnabled = true
