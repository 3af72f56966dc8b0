package run

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/upnsync/upnsync/config"
	"github.com/upnsync/upnsync/internal/memory"
	"github.com/upnsync/upnsync/internal/runlog"
	"github.com/upnsync/upnsync/mapping"
	upnsync "github.com/upnsync/upnsync/sync"
	"github.com/upnsync/upnsync/sync/octopus"
)

// Sync is one run of `upnsync sync` (the default command): read the
// mapping, open the store and the directory, plan, guard, report and, with
// --apply, write; with --incremental or --dirsync, advance the watermark.
// It logs to its own log (--log-file-path) and ends with the bookkeeping:
// the last log line, --summary-file and --metrics-file. The scheduler runs
// the same run at each scheduled time (Scheduled).
func Sync(ctx context.Context, env Env, s *config.Settings) Outcome {
	return inLog(env, s, func(l *runlog.Log, _ time.Time) Outcome { return syncLogged(ctx, env, s, l) })
}

// syncLogged is one run in the log l, with its bookkeeping. Failing to
// write the summary or the metrics is logged as an error but does not
// change the outcome, which tells what happened to the users.
func syncLogged(ctx context.Context, env Env, s *config.Settings, l *runlog.Log) Outcome {
	log := l.Logger()
	rec := &runRecord{Started: time.Now(), Mode: mode(s), LogFile: l.Path, Build: env.Build}
	o := syncRecovered(ctx, env, s, log, rec)
	if o.Err != nil {
		rec.Err = o.Err.Error()
	}
	if o.OutputErr != nil {
		rec.OutputErr = o.OutputErr.Error()
	}
	rec.ExitCode = ExitCode(o)
	rec.Finished = time.Now()
	rec.PeakMemory = memory.Peak()
	logSummary(log, rec)
	rec.save(env, s, log)
	return o
}

// syncRecovered is syncOnce with a recover, so that a bug in one run ends
// that run with exit code 1 and a summary instead of the process (a
// scheduler goes on with the next run).
func syncRecovered(ctx context.Context, env Env, s *config.Settings, log *slog.Logger, rec *runRecord) (o Outcome) {
	defer func() {
		if p := recover(); p != nil {
			o = logFailed(log, fmt.Errorf("internal error: %v; this is a bug in upnsync %s, please report it with this log", p, env.Build.Version))
		}
	}()
	return syncOnce(ctx, env, s, log, rec)
}

func syncOnce(ctx context.Context, env Env, s *config.Settings, log *slog.Logger, rec *runRecord) Outcome {
	started := rec.Started
	logWarnings(log, s)
	log.Info("upnsync starting", "version", env.Build.Version, "mode", mode(s), slog.GroupAttrs("settings", logAttrs(s)...))

	m, err := mapping.Load(s.ConfigFile)
	if err != nil {
		return logFailed(log, err)
	}
	const command = "upnsync sync --apply"
	ss, err := openStore(ctx, env, s, log, s.Store, StoreOptions(s, octopus.Options{State: s.State}), s.Apply, command)
	if err != nil {
		return logFailed(log, err)
	}
	defer ss.close()
	rec.Store = ss.store.Describe()
	p, o := makePlan(ctx, ss, m, started, false, rec)
	if p == nil {
		return o
	}
	defer p.close()
	plan := &p.plan
	forced, o, stop := guard(ss, p)
	if stop {
		return o
	}
	guide, _ := ss.store.(octopus.Guide)
	if !s.Apply {
		if guide != nil {
			p.meta.NextSteps = guide.NextSteps(nil)
		}
		o = pending(p)
	} else {
		run := newRun(p.meta.RunID, started, upnsync.RunSync, command)
		run.Directory, run.Forced = p.dir.Describe(), forced
		o = Outcome{Conflicts: len(plan.Conflicts)}
		applied, err := ss.apply(ctx, run, plan, &p.meta, &o)
		rec.Applied = p.meta.Applied
		if err != nil {
			return Failed(err)
		}
		if guide != nil {
			p.meta.NextSteps = guide.NextSteps(&applied)
		}
		// The counts and scope the next run compares with (G7, D3).
		p.hist.save(ctx, s, plan.Read, log)
	}
	if p.inc != nil {
		if err := p.inc.advance(ctx, s, plan.Read, o.Changed); err != nil {
			p.meta.Stopped = err.Error()
			o.Err = err
			log.Error(err.Error())
		} else if p.inc.info.Advanced {
			log.Info("watermark advanced", "mode", p.inc.mode, "to", p.inc.info.To)
		} else {
			log.Info("watermark not advanced: "+p.inc.info.NotAdvanced, "mode", p.inc.mode)
		}
	}
	return ss.finish(plan, p.meta, o)
}
