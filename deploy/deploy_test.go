// Package deploy holds no code: its test checks the deployment examples
// beside it (Kubernetes, systemd, Windows Task Scheduler) by parsing them
// and by giving the upnsync options they hold to upnsync's own parser.
package deploy

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/robfig/cron/v3"
	"go.yaml.in/yaml/v2"

	"github.com/upnsync/upnsync/config"
	"github.com/upnsync/upnsync/mapping"
)

func noenv(string) string { return "" }

// rehome maps absolute paths of the target machine into a temporary folder
// so that upnsync's parser can read the files they name.
type rehome struct {
	root string
	from []string
}

func (r rehome) path(p string) string {
	for _, f := range r.from {
		if p == f || strings.HasPrefix(p, f+"/") {
			return filepath.Join(r.root, filepath.FromSlash(p))
		}
	}
	return p
}

func (r rehome) text(s string) string {
	for _, f := range r.from {
		s = strings.ReplaceAll(s, f, filepath.ToSlash(filepath.Join(r.root, f)))
	}
	return s
}

func write(t *testing.T, p string, data string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
}

type k8sDoc struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Data map[string]string `yaml:"data"`
	Spec struct {
		Schedule          string `yaml:"schedule"`
		TimeZone          string `yaml:"timeZone"`
		ConcurrencyPolicy string `yaml:"concurrencyPolicy"`
		AccessModes       []string
		JobTemplate       struct {
			Spec struct {
				BackoffLimit     *int `yaml:"backoffLimit"`
				PodFailurePolicy struct {
					Rules []struct {
						Action      string `yaml:"action"`
						OnExitCodes struct {
							ContainerName string `yaml:"containerName"`
							Operator      string `yaml:"operator"`
							Values        []int  `yaml:"values"`
						} `yaml:"onExitCodes"`
					} `yaml:"rules"`
				} `yaml:"podFailurePolicy"`
				Template struct {
					Spec podSpec `yaml:"spec"`
				} `yaml:"template"`
			} `yaml:"spec"`
		} `yaml:"jobTemplate"`
	} `yaml:"spec"`
}

type podSpec struct {
	RestartPolicy   string `yaml:"restartPolicy"`
	SecurityContext struct {
		RunAsNonRoot *bool `yaml:"runAsNonRoot"`
		RunAsUser    int   `yaml:"runAsUser"`
		FSGroup      int   `yaml:"fsGroup"`
	} `yaml:"securityContext"`
	Containers []struct {
		Name            string   `yaml:"name"`
		Image           string   `yaml:"image"`
		Args            []string `yaml:"args"`
		SecurityContext struct {
			AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
			ReadOnlyRootFilesystem   *bool `yaml:"readOnlyRootFilesystem"`
			Capabilities             struct {
				Drop []string `yaml:"drop"`
			} `yaml:"capabilities"`
		} `yaml:"securityContext"`
		VolumeMounts []struct {
			Name      string `yaml:"name"`
			MountPath string `yaml:"mountPath"`
			ReadOnly  bool   `yaml:"readOnly"`
		} `yaml:"volumeMounts"`
	} `yaml:"containers"`
	Volumes []struct {
		Name      string `yaml:"name"`
		ConfigMap *struct {
			Name string `yaml:"name"`
		} `yaml:"configMap"`
		Secret *struct {
			SecretName  string `yaml:"secretName"`
			DefaultMode int    `yaml:"defaultMode"`
			Items       []struct {
				Key  string `yaml:"key"`
				Path string `yaml:"path"`
			} `yaml:"items"`
		} `yaml:"secret"`
		PVC *struct {
			ClaimName string `yaml:"claimName"`
		} `yaml:"persistentVolumeClaim"`
		EmptyDir *struct{} `yaml:"emptyDir"`
	} `yaml:"volumes"`
}

func TestKubernetesCronJob(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("kubernetes", "upnsync.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	docs := map[string]k8sDoc{}
	for {
		var d k8sDoc
		if err := dec.Decode(&d); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			t.Fatalf("upnsync.yaml: %v", err)
		}
		docs[d.Kind] = d
	}
	cm, pvc, cj := docs["ConfigMap"], docs["PersistentVolumeClaim"], docs["CronJob"]
	if cm.Metadata.Name == "" || pvc.Metadata.Name == "" || cj.Metadata.Name == "" {
		t.Fatalf("want a ConfigMap, a PersistentVolumeClaim and a CronJob, got %v", docs)
	}
	if cj.Spec.ConcurrencyPolicy != "Forbid" {
		t.Errorf("concurrencyPolicy %q, want Forbid", cj.Spec.ConcurrencyPolicy)
	}
	if _, err := cron.ParseStandard(cj.Spec.Schedule); err != nil {
		t.Errorf("schedule %q: %v", cj.Spec.Schedule, err)
	}
	if _, err := time.LoadLocation(cj.Spec.TimeZone); err != nil {
		t.Errorf("timeZone: %v", err)
	}
	job := cj.Spec.JobTemplate.Spec
	pod := job.Template.Spec
	if pod.RestartPolicy != "Never" { // required by podFailurePolicy
		t.Errorf("restartPolicy %q", pod.RestartPolicy)
	}
	if sc := pod.SecurityContext; sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == 0 || sc.FSGroup == 0 {
		t.Errorf("pod securityContext %+v: want non-root with an fsGroup", sc)
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers", len(pod.Containers))
	}
	c := pod.Containers[0]
	if sc := c.SecurityContext; sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || strings.Join(sc.Capabilities.Drop, ",") != "ALL" {
		t.Errorf("container securityContext %+v", sc)
	}
	rules := job.PodFailurePolicy.Rules
	if len(rules) != 1 || rules[0].Action != "FailJob" || rules[0].OnExitCodes.ContainerName != c.Name ||
		!slices.Equal(rules[0].OnExitCodes.Values, []int{2, 3, 4}) {
		t.Errorf("podFailurePolicy %+v", rules)
	}

	// Volumes: the config map, the Secret as a file readable by the
	// group only, the claim, a writable /tmp.
	mounts := map[string]string{} // volume name -> mount path
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = m.MountPath
	}
	var secretDir, dataDir, configDir string
	for _, v := range pod.Volumes {
		switch {
		case v.ConfigMap != nil && v.ConfigMap.Name == cm.Metadata.Name:
			configDir = mounts[v.Name]
		case v.Secret != nil:
			if v.Secret.DefaultMode != 0o440 || len(v.Secret.Items) != 1 || v.Secret.Items[0].Key != "password" {
				t.Errorf("secret volume %+v: want defaultMode 0440 and the key password", v.Secret)
			}
			secretDir = path.Join(mounts[v.Name], v.Secret.Items[0].Path)
		case v.PVC != nil && v.PVC.ClaimName == pvc.Metadata.Name:
			dataDir = mounts[v.Name]
		case v.EmptyDir != nil:
			if mounts[v.Name] != "/tmp" {
				t.Errorf("emptyDir %s mounted at %q, want /tmp", v.Name, mounts[v.Name])
			}
		}
		if mounts[v.Name] == "" {
			t.Errorf("volume %s is not mounted", v.Name)
		}
	}
	if configDir == "" || secretDir == "" || dataDir == "" {
		t.Fatalf("config %q, secret %q, data %q", configDir, secretDir, dataDir)
	}

	// The container's arguments and the settings file parse, and every
	// file they name is on a volume: read-only ones for input, the claim
	// for what the run writes.
	r := rehome{root: t.TempDir(), from: []string{configDir, path.Dir(secretDir), dataDir}}
	for name, content := range cm.Data {
		write(t, r.path(path.Join(configDir, name)), r.text(content), 0o644)
	}
	write(t, r.path(secretDir), "s3cret", 0o600)
	if err := os.MkdirAll(r.path(dataDir), 0o755); err != nil {
		t.Fatal(err)
	}
	args := make([]string, len(c.Args))
	for i, a := range c.Args {
		args[i] = r.path(a)
	}
	s, err := config.Parse(args, noenv)
	if err != nil {
		t.Fatalf("container args %q: %v", c.Args, err)
	}
	if s.Command != "sync" || !s.Apply || s.Password.Reveal() != "s3cret" || s.LogFormat != "json" {
		t.Errorf("settings %+v", s)
	}
	if _, err := mapping.Load(s.ConfigFile); err != nil {
		t.Errorf("the mapping file of the ConfigMap: %v", err)
	}
	for what, p := range map[string]string{"store": strings.TrimPrefix(s.Store, "sqlite:"), "summary": s.SummaryFile} {
		if !strings.HasPrefix(p, r.path(dataDir)+string(filepath.Separator)) {
			t.Errorf("the %s %s is not on the claim (%s): the root file system is read-only", what, p, dataDir)
		}
	}
}

// unit is a systemd unit file: section -> key -> values.
type unit map[string]map[string][]string

func parseUnit(t *testing.T, file string) unit {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u := unit{}
	section := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[' && line[len(line)-1] == ']':
			section = line[1 : len(line)-1]
			u[section] = map[string][]string{}
		case section == "":
			t.Fatalf("%s:%d: a setting outside any section", file, n)
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || strings.TrimSpace(k) == "" || strings.HasSuffix(line, `\`) {
				t.Fatalf("%s:%d: not key=value: %q", file, n, line)
			}
			u[section][k] = append(u[section][k], v)
		}
	}
	return u
}

func (u unit) one(t *testing.T, section, key string) string {
	t.Helper()
	v := u[section][key]
	if len(v) != 1 {
		t.Errorf("[%s] %s: %q, want one value", section, key, v)
		return ""
	}
	return v[0]
}

func TestSystemdServiceAndTimer(t *testing.T) {
	svc := parseUnit(t, filepath.Join("systemd", "upnsync.service"))
	timer := parseUnit(t, filepath.Join("systemd", "upnsync.timer"))
	for key, want := range map[string]string{"Type": "oneshot", "DynamicUser": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
		"NoNewPrivileges": "yes", "PrivateTmp": "yes", "StateDirectory": "upnsync", "LogsDirectory": "upnsync", "CapabilityBoundingSet": ""} {
		if got := svc.one(t, "Service", key); got != want {
			t.Errorf("[Service] %s=%q, want %q", key, got, want)
		}
	}
	if svc.one(t, "Unit", "After") != "network-online.target" {
		t.Error("the service does not wait for the network")
	}
	cred, credFile, _ := strings.Cut(svc.one(t, "Service", "LoadCredential"), ":")
	if cred == "" || !strings.HasPrefix(credFile, "/etc/upnsync/") {
		t.Errorf("LoadCredential %q", svc["Service"]["LoadCredential"])
	}

	// ExecStart parses as upnsync's options; what the run writes is in the
	// folders the sandbox leaves writable.
	fields := strings.Fields(svc.one(t, "Service", "ExecStart"))
	if fields[0] != "/usr/local/bin/upnsync" {
		t.Fatalf("ExecStart runs %s", fields[0])
	}
	tmp := t.TempDir()
	credDir := filepath.Join(tmp, "credentials")
	write(t, filepath.Join(credDir, cred), "s3cret\n", 0o400)
	settings := filepath.Join(tmp, "upnsync.conf")
	write(t, settings, "config-file-path = /etc/upnsync/ADSIReaderLDAPMappings.xml\ndirectory = ldaps://dc1.corp.example.com\n", 0o644)
	var args []string
	for _, a := range fields[1:] {
		a = strings.ReplaceAll(a, "%d", credDir)
		if a == "/etc/upnsync/upnsync.conf" {
			a = settings
		}
		args = append(args, a)
	}
	s, err := config.Parse(args, noenv)
	if err != nil {
		t.Fatalf("ExecStart %q: %v", fields, err)
	}
	if !s.Apply || s.Password.Reveal() != "s3cret" || s.SettingsFile != settings {
		t.Errorf("settings %+v", s)
	}
	for what, p := range map[string]string{"store": strings.TrimPrefix(s.Store, "sqlite:"), "summary": s.SummaryFile, "log": s.LogFile, "report": s.ReportFile} {
		if !strings.HasPrefix(p, "/var/lib/upnsync/") && !strings.HasPrefix(p, "/var/log/upnsync/") {
			t.Errorf("the %s %s is outside StateDirectory and LogsDirectory: ProtectSystem=strict makes it read-only", what, p)
		}
	}

	if timer.one(t, "Timer", "OnCalendar") == "" || timer.one(t, "Timer", "Persistent") != "yes" ||
		timer.one(t, "Install", "WantedBy") != "timers.target" {
		t.Errorf("timer %v", timer)
	}
	if _, ok := timer["Timer"]["Unit"]; ok {
		t.Error("the timer names another unit; upnsync.timer starts upnsync.service by name")
	}
}

type task struct {
	XMLName  xml.Name `xml:"http://schemas.microsoft.com/windows/2004/02/mit/task Task"`
	Version  string   `xml:"version,attr"`
	Triggers struct {
		Calendar []struct {
			StartBoundary string `xml:"StartBoundary"`
			Enabled       bool   `xml:"Enabled"`
			DaysInterval  int    `xml:"ScheduleByDay>DaysInterval"`
		} `xml:"CalendarTrigger"`
	} `xml:"Triggers"`
	Principal struct {
		ID        string `xml:"id,attr"`
		UserID    string `xml:"UserId"`
		LogonType string `xml:"LogonType"`
		RunLevel  string `xml:"RunLevel"`
	} `xml:"Principals>Principal"`
	Settings struct {
		MultipleInstancesPolicy string `xml:"MultipleInstancesPolicy"`
		ExecutionTimeLimit      string `xml:"ExecutionTimeLimit"`
		StartWhenAvailable      bool   `xml:"StartWhenAvailable"`
		Enabled                 bool   `xml:"Enabled"`
	} `xml:"Settings"`
	Actions struct {
		Context string `xml:"Context,attr"`
		Exec    []struct {
			Command          string `xml:"Command"`
			WorkingDirectory string `xml:"WorkingDirectory"`
		} `xml:"Exec"`
	} `xml:"Actions"`
}

func TestWindowsScheduledTask(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("windows", "upnsync-task.xml"))
	if err != nil {
		t.Fatal(err)
	}
	var tk task
	if err := xml.Unmarshal(data, &tk); err != nil {
		t.Fatalf("upnsync-task.xml: %v", err)
	}
	if tk.Version == "" || len(tk.Triggers.Calendar) != 1 || !tk.Triggers.Calendar[0].Enabled || tk.Triggers.Calendar[0].DaysInterval != 1 {
		t.Errorf("task %+v", tk)
	}
	if _, err := time.Parse("2006-01-02T15:04:05", tk.Triggers.Calendar[0].StartBoundary); err != nil {
		t.Errorf("StartBoundary: %v", err)
	}
	if tk.Settings.MultipleInstancesPolicy != "IgnoreNew" || !tk.Settings.Enabled || !tk.Settings.StartWhenAvailable ||
		!regexp.MustCompile(`^PT\d+[HM]$`).MatchString(tk.Settings.ExecutionTimeLimit) {
		t.Errorf("settings %+v", tk.Settings)
	}
	if tk.Principal.RunLevel != "LeastPrivilege" || tk.Principal.ID != tk.Actions.Context || tk.Principal.UserID == "" {
		t.Errorf("principal %+v, actions context %q", tk.Principal, tk.Actions.Context)
	}
	if len(tk.Actions.Exec) != 1 || !strings.HasSuffix(strings.Trim(tk.Actions.Exec[0].Command, `"`), `\upnsync-task.cmd`) {
		t.Fatalf("actions %+v", tk.Actions)
	}
}

// splitWindows splits a command line as Windows programs (and Go on
// Windows) do for the simple cases a batch file holds: blanks separate,
// double quotes group and are removed.
func splitWindows(s string) []string {
	var args []string
	var cur strings.Builder
	inQuote, any := false, false
	for _, r := range s {
		switch {
		case r == '"':
			inQuote, any = !inQuote, true
		case (r == ' ' || r == '\t') && !inQuote:
			if any {
				args = append(args, cur.String())
				cur.Reset()
				any = false
			}
		default:
			cur.WriteRune(r)
			any = true
		}
	}
	if any {
		args = append(args, cur.String())
	}
	return args
}

func TestWindowsBatchFile(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("windows", "upnsync-task.cmd"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	if strings.Count(text, "\n") != strings.Count(text, "\r\n") {
		t.Error("upnsync-task.cmd must have CRLF line ends")
	}
	var run string
	for _, l := range strings.Split(text, "\r\n") {
		if strings.HasPrefix(l, `"%UPNSYNC%" `) {
			run = l
		}
	}
	if run == "" || !strings.Contains(text, "exit /b %ERRORLEVEL%") {
		t.Fatalf("no upnsync command line or no exit code passed on:\n%s", text)
	}
	conf := t.TempDir()
	write(t, filepath.Join(conf, "upnsync.pw"), "s3cret", 0o600)
	for _, command := range []string{"sync", "doctor"} {
		line := strings.NewReplacer(`%CONF%\`, conf+"/", "%COMMAND%", command).Replace(run)
		args := splitWindows(line)[1:]
		s, err := config.Parse(args, noenv)
		if err != nil {
			t.Fatalf("%q: %v", args, err)
		}
		if s.Command != command || !s.Apply || s.Password.Reveal() != "s3cret" || s.LogKeep == 0 || s.SummaryFile == "" || !s.Quiet ||
			s.Store != "sqlite:"+conf+"/octopus-users.db" {
			t.Errorf("%s: settings %+v", command, s)
		}
	}
}
