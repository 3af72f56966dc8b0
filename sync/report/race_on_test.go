//go:build race

package report

// raceDetector: the tests run with -race, which makes timings meaningless.
const raceDetector = true
