package jscompat

import "testing"

func captureDecision(t *testing.T, dfName, mode string, d *jsLine, le jsLogEvent, b jsBatch) {}
func captureConversion(t *testing.T, dfName, tags string, c *jsLine, b jsBatch) {}
