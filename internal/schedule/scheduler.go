package schedule

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/upnsync/upnsync/config"
	"github.com/upnsync/upnsync/internal/run"
	"github.com/upnsync/upnsync/internal/runlog"
)

// cancelGrace bounds the wait for a run to notice its cancellation after
// --shutdown-timeout, so that a run stuck in a system call cannot keep the
// process alive for ever.
const cancelGrace = 30 * time.Second

// scheduler runs syncs on a schedule. At most one runs at a time: a run
// due while the previous one still runs is skipped and logged.
type scheduler struct {
	settings *config.Settings
	sched    cron.Schedule
	env      run.Env
	console  *slog.Logger
	runCtx   context.Context

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

// Run is --schedule: it runs the same sync as a plain run at each
// scheduled time (run.Scheduled) until ctx is done (SIGINT or SIGTERM),
// then waits for the running sync (up to --shutdown-timeout). The outcome
// is an error when the schedule cannot be read or a run had to be
// cancelled; a clean stop is not a failure, whatever the runs' outcomes
// (each has its own summary and metrics).
func Run(ctx context.Context, env run.Env, s *config.Settings) run.Outcome {
	sched, err := Parse(s.Schedule)
	if err != nil {
		fmt.Fprintf(env.Stderr, "upnsync: %v\n", err)
		return run.Failed(err)
	}
	// Runs, scheduler messages and progress share the terminal.
	env.Stdout, env.Stderr = &lockedWriter{w: env.Stdout}, &lockedWriter{w: env.Stderr}
	// Runs are not cancelled by the stop signal itself: the shutdown lets
	// the running one finish, and cancels it only after the timeout.
	runCtx, cancelRuns := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRuns()
	sc := &scheduler{settings: s, sched: sched, env: env,
		console: slog.New(runlog.Console(s, env.Stderr)), runCtx: runCtx}

	now := time.Now()
	for _, w := range DSTWarnings(sched, now, 366*24*time.Hour) {
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
	sc.console.Log(ctx, runlog.LevelNotice, "scheduler started", "schedule", s.Schedule, "time_zone", Zone(sched),
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
func (sc *scheduler) shutdown(c *cron.Cron, cancelRuns context.CancelFunc) run.Outcome {
	sc.mu.Lock()
	sc.stopping = true
	a := sc.active
	n := sc.started
	sc.mu.Unlock()
	stopped := c.Stop()
	if a == nil {
		<-stopped.Done()
		sc.console.Log(context.Background(), runlog.LevelNotice, "scheduler stopped", "runs", n)
		return run.Outcome{}
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)
	timeout := sc.settings.ShutdownTimeout
	sc.event(runlog.LevelNotice, fmt.Sprintf("stopping: waiting up to %s (--shutdown-timeout) for run %d to finish; stop again to cancel it now", timeout, a.n),
		"run", a.n, "running_for", time.Since(a.started).Round(time.Second).String())
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	why := ""
	select {
	case <-a.done:
		<-stopped.Done()
		sc.console.Log(context.Background(), runlog.LevelNotice, "scheduler stopped", "runs", n)
		return run.Outcome{}
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
	return run.Failed(errors.New(why))
}

// runJob is one scheduled run (run.Scheduled), with the scheduler's
// events around it.
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

	begin := func(l *runlog.Log) {
		sc.mu.Lock()
		a.file = l.File
		sc.mu.Unlock()
		sc.event(runlog.LevelNotice, "scheduled run starting", "run", a.n, "log_file", l.Path)
	}
	end := func(o run.Outcome) {
		code := run.ExitCode(o)
		args := []any{"run", a.n, "exit_code", code, "result", run.Result(code), "elapsed", time.Since(a.started).Round(time.Millisecond).String()}
		sc.mu.Lock()
		stopping := sc.stopping
		sc.mu.Unlock()
		if !stopping {
			args = append(args, "next_run", sc.sched.Next(time.Now()).Format(time.RFC3339))
		}
		sc.event(runlog.LevelNotice, "scheduled run finished", args...)
	}
	run.Scheduled(sc.runCtx, sc.env, sc.settings, a.n, a.started, begin, end)
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

// Fd lets progress.On see the terminal behind the lock.
func (w *lockedWriter) Fd() uintptr {
	if f, ok := w.w.(interface{ Fd() uintptr }); ok {
		return f.Fd()
	}
	return ^uintptr(0)
}
