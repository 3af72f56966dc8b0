package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	// Time zones for CRON_TZ= on machines without a zone database of their
	// own (Windows, distroless images).
	_ "time/tzdata"

	"github.com/robfig/cron/v3"

	"github.com/upnsync/upnsync/config"
)

// cancelGrace bounds the wait for a run to notice its cancellation after
// --shutdown-timeout, so that a run stuck in a system call cannot keep the
// process alive for ever.
const cancelGrace = 30 * time.Second

// parseSchedule reads a --schedule spec: five fields, a descriptor (@daily,
// @every 30m), optionally after CRON_TZ=Zone. robfig/cron panics on some
// malformed specs (CRON_TZ=UTC with nothing after it), so the parse is
// guarded: a typo is an error message, never a crash.
func parseSchedule(spec string) (sched cron.Schedule, err error) {
	spec = strings.TrimSpace(spec)
	defer func() {
		if p := recover(); p != nil {
			sched, err = nil, scheduleError(spec, "not a schedule upnsync can read")
			if tz, rest, _ := strings.Cut(spec, "="); (tz == "CRON_TZ" || tz == "TZ") && !strings.Contains(strings.TrimSpace(rest), " ") {
				err = scheduleError(spec, tz+"= names a time zone but no schedule follows it")
			}
		}
	}()
	sched, err = cron.ParseStandard(spec)
	if err != nil {
		return nil, scheduleError(spec, err.Error())
	}
	body := spec
	if strings.HasPrefix(body, "CRON_TZ=") || strings.HasPrefix(body, "TZ=") {
		_, body, _ = strings.Cut(body, " ")
	}
	// robfig/cron turns @every 0s or 500ms into every second without a
	// word: refuse what would not run as written.
	if d, ok := strings.CutPrefix(strings.TrimSpace(body), "@every "); ok {
		if every, perr := time.ParseDuration(strings.TrimSpace(d)); perr == nil && every < time.Second {
			return nil, scheduleError(spec, "@every needs a duration of at least 1s")
		}
	}
	return sched, nil
}

func scheduleError(spec, why string) error {
	why = strings.TrimSuffix(why, ".")
	return fmt.Errorf(`--schedule %q: %s; use 5 fields (minute hour day-of-month month day-of-week) such as "30 1 * * *", or @daily, @hourly, @every 30m, optionally after a time zone: "CRON_TZ=Europe/Paris 30 1 * * *"`, spec, why)
}

// scheduleZone names the time zone a schedule runs in.
func scheduleZone(sched cron.Schedule) string {
	if spec, ok := sched.(*cron.SpecSchedule); ok && spec.Location != nil && spec.Location != time.Local {
		return spec.Location.String()
	}
	name, _ := time.Now().Zone()
	return "local time (" + name + ")"
}

// scheduler runs syncs on a schedule. At most one runs at a time: a run
// due while the previous one still runs is skipped and logged.
type scheduler struct {
	settings       *config.Settings
	sched          cron.Schedule
	stdout, stderr io.Writer
	console        *slog.Logger
	runCtx         context.Context

	mu       sync.Mutex
	stopping bool
	active   *activeRun // the run in flight, nil when idle
	started  int        // runs started so far
}

type activeRun struct {
	n       int
	started time.Time
	done    chan struct{}
	file    slog.Handler // its log file's handler, nil without one
}

// runScheduled is --schedule: it runs the same sync as a plain run at each
// scheduled time until SIGINT or SIGTERM, then waits for the running sync
// (up to --shutdown-timeout) and exits 0.
func runScheduled(ctx context.Context, s *config.Settings, stdout, stderr io.Writer) int {
	sched, err := parseSchedule(s.Schedule)
	if err != nil {
		return fail(stderr, "%v", err)
	}
	// Runs, scheduler messages and progress share the terminal.
	stdout, stderr = &lockedWriter{w: stdout}, &lockedWriter{w: stderr}
	// Runs are not cancelled by the stop signal itself: the shutdown lets
	// the running one finish, and cancels it only after the timeout.
	runCtx, cancelRuns := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRuns()
	sc := &scheduler{settings: s, sched: sched, stdout: stdout, stderr: stderr,
		console: slog.New(consoleLogHandler(s, stderr)), runCtx: runCtx}

	now := time.Now()
	for _, w := range dstWarnings(sched, now, 366*24*time.Hour) {
		sc.console.Warn(w)
	}
	logger := cronLogger{sc}
	c := cron.New(cron.WithLogger(logger),
		// SkipIfStillRunning must wrap Recover: the other way round a
		// panicking run would leave the skip lock held and every later run
		// would be skipped.
		cron.WithChain(cron.SkipIfStillRunning(logger), cron.Recover(logger)))
	id := c.Schedule(sched, cron.FuncJob(sc.runJob))
	job := c.Entry(id).WrappedJob
	c.Start()
	sc.console.Log(ctx, levelNotice, "scheduler started", "schedule", s.Schedule, "time_zone", scheduleZone(sched),
		"next_run", sched.Next(now).Format(time.RFC3339), "run_now", s.RunNow)
	if s.RunNow {
		go job.Run() // through the same chain: it counts for overlap
	}

	<-ctx.Done()
	return sc.shutdown(c, cancelRuns)
}

// shutdown stops scheduling, waits for the running sync up to
// --shutdown-timeout (a second stop signal cuts the wait short), then
// cancels it.
func (sc *scheduler) shutdown(c *cron.Cron, cancelRuns context.CancelFunc) int {
	sc.mu.Lock()
	sc.stopping = true
	a := sc.active
	n := sc.started
	sc.mu.Unlock()
	stopped := c.Stop()
	if a == nil {
		<-stopped.Done()
		sc.console.Log(context.Background(), levelNotice, "scheduler stopped", "runs", n)
		return exitOK
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)
	timeout := sc.settings.ShutdownTimeout
	sc.event(levelNotice, fmt.Sprintf("stopping: waiting up to %s (--shutdown-timeout) for run %d to finish; stop again to cancel it now", timeout, a.n),
		"run", a.n, "running_for", time.Since(a.started).Round(time.Second).String())
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	why := ""
	select {
	case <-a.done:
		<-stopped.Done()
		sc.console.Log(context.Background(), levelNotice, "scheduler stopped", "runs", n)
		return exitOK
	case <-timer.C:
		why = fmt.Sprintf("run %d did not finish within --shutdown-timeout %s", a.n, timeout)
	case <-sig:
		why = fmt.Sprintf("a second stop signal came while run %d was running", a.n)
	}
	sc.event(slog.LevelError, why+": cancelling it; writes it committed stay, the rest is left for the next run")
	cancelRuns()
	select {
	case <-a.done:
	case <-time.After(cancelGrace):
		sc.console.Error(fmt.Sprintf("run %d did not stop within %s of its cancellation: exiting without it", a.n, cancelGrace))
	}
	return exitError
}

// runJob is one scheduled run: the settings read again (a rotated password
// file, an edited settings file), a log of its own, a new connection.
func (sc *scheduler) runJob() {
	sc.mu.Lock()
	if sc.stopping {
		sc.mu.Unlock()
		return
	}
	sc.started++
	a := &activeRun{n: sc.started, started: time.Now(), done: make(chan struct{})}
	sc.active = a
	sc.mu.Unlock()
	defer func() {
		sc.mu.Lock()
		sc.active = nil
		sc.mu.Unlock()
		close(a.done)
	}()

	s, err := sc.settings.Reload()
	if err != nil {
		sc.failedRun(a, sc.settings, fmt.Sprintf("run %d: the settings no longer read: %v", a.n, err))
		return
	}
	l, err := openRunLog(s, sc.stderr, a.started)
	if err != nil {
		sc.failedRun(a, s, fmt.Sprintf("run %d: %v", a.n, err))
		return
	}
	defer l.close()
	sc.mu.Lock()
	a.file = l.file
	sc.mu.Unlock()
	sc.event(levelNotice, "scheduled run starting", "run", a.n, "log_file", l.path)
	code := runOnce(sc.runCtx, s, l, sc.stdout, sc.stderr)
	args := []any{"run", a.n, "exit_code", code, "result", resultOf(code), "elapsed", time.Since(a.started).Round(time.Millisecond).String()}
	sc.mu.Lock()
	stopping := sc.stopping
	sc.mu.Unlock()
	if !stopping {
		args = append(args, "next_run", sc.sched.Next(time.Now()).Format(time.RFC3339))
	}
	sc.event(levelNotice, "scheduled run finished", args...)
}

// failedRun records a run that could not start: its error on the console,
// and in the summary and metrics files, so that monitoring sees it.
func (sc *scheduler) failedRun(a *activeRun, s *config.Settings, msg string) {
	sc.console.Error(msg)
	rec := &runRecord{Started: a.started, Finished: time.Now(), Mode: mode(s), ExitCode: exitError, Err: msg, PeakMemory: peakMemory()}
	if s.SummaryFile != "" {
		if err := writeSummary(s.SummaryFile, rec); err != nil {
			sc.console.Error(fmt.Sprintf("cannot write the run summary to %s: %v", s.SummaryFile, err))
		}
	}
	if s.MetricsFile != "" {
		if err := writeMetrics(s.MetricsFile, rec); err != nil {
			sc.console.Error(fmt.Sprintf("cannot write the metrics to %s: %v", s.MetricsFile, err))
		}
	}
}

// event logs a scheduler event on the console and in the log file of the
// run in flight, if any, so that a skipped run or a shutdown shows in the
// log of the run it concerns.
func (sc *scheduler) event(level slog.Level, msg string, args ...any) {
	ctx := context.Background()
	sc.console.Log(ctx, level, msg, args...)
	sc.mu.Lock()
	var file slog.Handler
	if sc.active != nil {
		file = sc.active.file
	}
	sc.mu.Unlock()
	if file != nil {
		slog.New(file).Log(ctx, level, msg, args...)
	}
}

// cronLogger turns robfig/cron's messages into upnsync's: a skipped run
// becomes a warning naming the run in flight; the rest is cron's chatter.
type cronLogger struct{ sc *scheduler }

func (l cronLogger) Info(msg string, _ ...any) {
	if msg != "skip" {
		return
	}
	l.sc.mu.Lock()
	a := l.sc.active
	l.sc.mu.Unlock()
	if a == nil {
		l.sc.event(slog.LevelWarn, "a scheduled run was skipped: the previous run is still running")
		return
	}
	l.sc.event(slog.LevelWarn, fmt.Sprintf("a scheduled run was skipped: run %d, started %s ago, is still running", a.n, time.Since(a.started).Round(time.Second)),
		"running", a.n)
}

// Error reports a panic caught by cron.Recover, without the stack.
func (l cronLogger) Error(err error, msg string, _ ...any) {
	if err == nil {
		err = errors.New(msg)
	}
	l.sc.event(slog.LevelError, fmt.Sprintf("a scheduled run failed with an internal error: %v; the scheduler goes on; please report this bug", err))
}

// lockedWriter serialises writes from the scheduler and its runs.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}

// Fd lets progressOn see the terminal behind the lock.
func (w *lockedWriter) Fd() uintptr {
	if f, ok := w.w.(interface{ Fd() uintptr }); ok {
		return f.Fd()
	}
	return ^uintptr(0)
}
