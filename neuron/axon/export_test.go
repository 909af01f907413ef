package axon

// ReplayEntries returns how many nonces the Axon's replay guard holds, for
// the external tests.
func (a *Axon) ReplayEntries() int { return a.guard.Len() }
