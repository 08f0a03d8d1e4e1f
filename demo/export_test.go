package demo

// ActiveForTest reports how many long-running handlers (delay, stream,
// sse, ws) are still running.
func (s *Server) ActiveForTest() int { return s.active.count() }
