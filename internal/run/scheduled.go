package run

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/upnsync/upnsync/config"
	"github.com/upnsync/upnsync/internal/memory"
	"github.com/upnsync/upnsync/internal/runlog"
)

// Scheduled is the run a scheduler (--schedule) starts at each scheduled
// time: the settings read again (a rotated password file, an edited
// settings file), a log of its own, then the same run as Sync's. n numbers
// the run in the scheduler's messages. begin is called with the run's log
// once it is open, before the run, and end with the outcome before the log
// closes: the scheduler's events about the run go to its log file too. A
// run that cannot start (the settings or the log no longer open) is an
// error on the console, in the summary and in the metrics, so that
// monitoring sees it; begin and end are then not called.
func Scheduled(ctx context.Context, env Env, base *config.Settings, n int, started time.Time, begin func(*runlog.Log), end func(Outcome)) Outcome {
	console := slog.New(runlog.Console(base, env.Stderr))
	s, err := base.Reload()
	if err != nil {
		return notStarted(env, base, console, started, fmt.Errorf("run %d: the settings no longer read: %v", n, err))
	}
	l, err := openLog(s, env.Stderr, started)
	if err != nil {
		return notStarted(env, s, console, started, fmt.Errorf("run %d: %v", n, err))
	}
	defer l.Close()
	begin(l)
	o := syncLogged(ctx, env, s, l)
	end(o)
	return o
}

// notStarted records a scheduled run that could not start.
func notStarted(env Env, s *config.Settings, console *slog.Logger, started time.Time, err error) Outcome {
	console.Error(err.Error())
	rec := &runRecord{Build: env.Build, Started: started, Finished: time.Now(), Mode: mode(s), ExitCode: ExitError,
		Err: err.Error(), PeakMemory: memory.Peak()}
	rec.save(env, s, console)
	return Failed(err)
}
