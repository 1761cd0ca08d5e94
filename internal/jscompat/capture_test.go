package jscompat

import "testing"

func captureDecision(t *testing.T, dfName, mode string, d *jsLine, le jsLogEvent, b jsBatch) {}
