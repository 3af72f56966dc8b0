package config

// Reload parses the same command line, environment and settings file again,
// so that a long-running scheduler picks up a rotated password file (a
// Kubernetes Secret, a renewed service account password) or an edited
// settings file at each run, without a restart. Settings not made by Parse
// are returned as they are.
func (s *Settings) Reload() (*Settings, error) {
	if s.source == nil {
		return s, nil
	}
	n, err := Parse(s.source.args, s.source.getenv)
	// A password typed at the prompt when the scheduler started is in
	// no file to read again: keep it, unless one is given now.
	if err == nil && n.Password.IsZero() && s.passwordFrom == promptSource && n.NeedsPassword() {
		n.SetPromptedPassword(s.Password.Reveal())
	}
	return n, err
}
