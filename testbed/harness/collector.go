// Package harness runs a real collector binary and a real OTLP client for the demo,
// the end-to-end tests and the load benchmark.
package harness // import "github.com/experimentationexporter/experimentationexporter/testbed/harness"

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Collector is a running collector process.
type Collector struct {
	Binary     string
	ConfigPath string
	OTLPPort   int // OTLP/HTTP receiver port
	Env        []string

	mu     sync.Mutex
	cmd    *exec.Cmd
	output *bytes.Buffer
	done   chan struct{}
}

// lockedBuffer lets the process write output while tests read it.
type lockedBuffer struct {
	mu  *sync.Mutex
	buf *bytes.Buffer
}

func (l lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// WriteConfig writes a collector config into dir and returns its path.
func WriteConfig(dir, yaml string) (string, error) {
	path := filepath.Join(dir, "collector.yaml")
	return path, os.WriteFile(path, []byte(yaml), 0o600)
}

// Start launches the collector and waits until its OTLP port accepts connections.
func (c *Collector) Start(timeout time.Duration) error {
	c.mu.Lock()
	c.output = &bytes.Buffer{}
	cmd := exec.Command(c.Binary, "--config", c.ConfigPath)
	cmd.Env = append(os.Environ(), c.Env...)
	w := lockedBuffer{mu: &c.mu, buf: c.output}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		c.mu.Unlock()
		return err
	}
	c.cmd = cmd
	c.done = make(chan struct{})
	done := c.done
	c.mu.Unlock()
	go func() { _ = cmd.Wait(); close(done) }()

	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return fmt.Errorf("collector exited during start:\n%s", c.Output())
		default:
		}
		conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(c.OTLPPort), 200*time.Millisecond)
		if err == nil {
			conn.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = c.Kill()
	return fmt.Errorf("collector did not listen on %d within %s:\n%s", c.OTLPPort, timeout, c.Output())
}

// Stop sends SIGTERM and waits for a graceful exit (the exporter drains its queue).
func (c *Collector) Stop(timeout time.Duration) error {
	c.mu.Lock()
	cmd, done := c.cmd, c.done
	c.mu.Unlock()
	if cmd == nil {
		return nil
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
		return nil
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		<-done
		return errors.New("collector did not stop in time; killed")
	}
}

// Kill sends SIGKILL (kill -9) and waits for the process to end.
func (c *Collector) Kill() error {
	c.mu.Lock()
	cmd, done := c.cmd, c.done
	c.mu.Unlock()
	if cmd == nil {
		return nil
	}
	err := cmd.Process.Kill()
	<-done
	return err
}

// Pid returns the process id.
func (c *Collector) Pid() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cmd == nil {
		return 0
	}
	return c.cmd.Process.Pid
}

// Output returns what the collector printed so far.
func (c *Collector) Output() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.output == nil {
		return ""
	}
	return c.output.String()
}

// ProcStats reads CPU time (user+system) and peak RSS of a running process from /proc.
func ProcStats(pid int) (cpu time.Duration, peakRSSKiB int64, err error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(stat, ')')
	fields := bytes.Fields(stat[i+2:])
	utime, _ := strconv.ParseInt(string(fields[11]), 10, 64)
	stime, _ := strconv.ParseInt(string(fields[12]), 10, 64)
	cpu = time.Duration(utime+stime) * time.Second / 100 // USER_HZ is 100 on Linux
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return cpu, 0, err
	}
	for _, line := range bytes.Split(status, []byte("\n")) {
		if bytes.HasPrefix(line, []byte("VmHWM:")) {
			f := bytes.Fields(line)
			peakRSSKiB, _ = strconv.ParseInt(string(f[1]), 10, 64)
		}
	}
	return cpu, peakRSSKiB, nil
}

// WaitFor polls cond until it is true or the timeout passes.
func WaitFor(ctx context.Context, timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(50 * time.Millisecond):
		}
	}
	return cond()
}
