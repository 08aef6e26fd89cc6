package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is a child process in a process group of its own, so that stopping it also stops
// whatever it started, and a terminal's Ctrl-C reaches only the bench (which then stops it).
type proc struct {
	name string
	cmd  *exec.Cmd
	// logPath has the process's stdout and stderr (or stderr alone when stdout is piped).
	logPath string
	done    chan struct{}
	waitErr error
}

// procOptions are how to start a process beyond its command line.
type procOptions struct {
	env []string
	// logPath receives its output.
	logPath string
	// pipes: stdin and stdout are pipes for a line protocol (the baseline child); stderr
	// still goes to logPath.
	pipes bool
}

// procGroup tracks every process the bench started, to stop them all on exit or a signal.
type procGroup struct {
	mu    sync.Mutex
	procs map[*proc]struct{}
}

func newProcGroup() *procGroup { return &procGroup{procs: make(map[*proc]struct{})} }

// start starts bin with args; the caller stops it with stop (or stopAll at exit).
func (g *procGroup) start(name, bin string, args []string, o procOptions) (*proc, io.WriteCloser, *bufio.Reader, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = o.env
	// Setpgid: a group of its own; Pdeathsig: killed by the kernel should the bench die without
	// cleaning up (SIGKILL, a crash).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	logf, err := os.Create(o.logPath)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%s log: %w", name, err)
	}
	cmd.Stderr = logf
	var stdin io.WriteCloser
	var stdout *bufio.Reader
	if o.pipes {
		if stdin, err = cmd.StdinPipe(); err != nil {
			_ = logf.Close()
			return nil, nil, nil, fmt.Errorf("%s stdin: %w", name, err)
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			_ = logf.Close()
			return nil, nil, nil, fmt.Errorf("%s stdout: %w", name, err)
		}
		stdout = bufio.NewReaderSize(out, 1<<20)
	} else {
		cmd.Stdout = logf
	}
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		return nil, nil, nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, logPath: o.logPath, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		_ = logf.Close()
		close(p.done)
	}()
	g.mu.Lock()
	g.procs[p] = struct{}{}
	g.mu.Unlock()
	slog.Debug("process started", "name", name, "pid", cmd.Process.Pid)
	return p, stdin, stdout, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM to the process group, and SIGKILL after grace.
func (g *procGroup) stop(p *proc, grace time.Duration) error {
	defer func() {
		g.mu.Lock()
		delete(g.procs, p)
		g.mu.Unlock()
	}()
	if p.exited() {
		return nil
	}
	_ = syscall.Kill(-p.pid(), syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(grace):
	}
	_ = syscall.Kill(-p.pid(), syscall.SIGKILL)
	<-p.done
	return fmt.Errorf("%s did not stop within %s: killed", p.name, grace)
}

// stopAll stops every process still running.
func (g *procGroup) stopAll() {
	g.mu.Lock()
	all := make([]*proc, 0, len(g.procs))
	for p := range g.procs {
		all = append(all, p)
	}
	g.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range all {
		wg.Go(func() {
			if err := g.stop(p, 10*time.Second); err != nil {
				slog.Warn("stop", "err", err)
			}
		})
	}
	wg.Wait()
}

// logTail is the end of a process's log, for error messages.
func (p *proc) logTail(n int) string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// buildBinaries builds cmd/gateway and cmd/wasim into dir with CGO_ENABLED=0, from the module
// root, with the go command and toolchain this environment selects.
func buildBinaries(ctx context.Context, root, dir string) (gateway, wasim string, err error) {
	gateway, wasim = filepath.Join(dir, "gateway"), filepath.Join(dir, "wasim")
	for out, pkg := range map[string]string{gateway: "./cmd/gateway", wasim: "./cmd/wasim"} {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			return "", "", fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
		}
	}
	return gateway, wasim, nil
}

// moduleRoot is the directory of the main module's go.mod.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside the module: run from the repository")
	}
	return filepath.Dir(gomod), nil
}

// freePort asks the kernel for a free loopback port (released at once: the child binds it).
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitHTTP polls url until it answers 200, the process exits or timeout passes.
func waitHTTP(ctx context.Context, p *proc, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if resp, err := http.DefaultClient.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if p.exited() {
			return fmt.Errorf("%s exited (%v) before %s answered:\n%s", p.name, p.waitErr, url, p.logTail(20))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %s not ready: %w\n%s", p.name, url, ctx.Err(), p.logTail(20))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// procSample is what the OS says of a process at one moment.
type procSample struct {
	At time.Time
	// CPUSeconds is user + system time (utime + stime of /proc/<pid>/stat).
	CPUSeconds float64
	// RSSKB is VmRSS of /proc/<pid>/status.
	RSSKB int64
}

// clockTicks is the kernel's USER_HZ, the unit of /proc/<pid>/stat times.
var clockTicks = readClockTicks()

// readClockTicks reads AT_CLKTCK from the bench's own auxiliary vector (no cgo for sysconf);
// 100, Linux's value on every common architecture, when it cannot.
func readClockTicks() float64 {
	b, err := os.ReadFile("/proc/self/auxv")
	if err != nil {
		return 100
	}
	return auxvClockTicks(b)
}

// auxvClockTicks finds AT_CLKTCK (17) in a 64-bit little-endian auxiliary vector.
func auxvClockTicks(b []byte) float64 {
	const atClkTck = 17
	for i := 0; i+16 <= len(b); i += 16 {
		key, val := binary.LittleEndian.Uint64(b[i:]), binary.LittleEndian.Uint64(b[i+8:])
		if key == atClkTck && val > 0 {
			return float64(val)
		}
		if key == 0 {
			break
		}
	}
	return 100
}

// parseStatCPU returns utime + stime, in clock ticks, from the text of /proc/<pid>/stat. The
// command name (field 2) is in parentheses and may hold spaces and parentheses itself, so the
// fields are counted from the last ')'.
func parseStatCPU(stat []byte) (uint64, error) {
	end := bytes.LastIndexByte(stat, ')')
	if end < 0 || end+2 > len(stat) {
		return 0, errors.New("stat: no ')' after the command name")
	}
	// After ") ": state (field 3), …, utime is field 14 and stime field 15.
	fields := strings.Fields(string(stat[end+2:]))
	if len(fields) < 13 {
		return 0, fmt.Errorf("stat: %d fields after the name, want >= 13", len(fields))
	}
	utime, err := strconv.ParseUint(fields[11], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("stat utime: %w", err)
	}
	stime, err := strconv.ParseUint(fields[12], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("stat stime: %w", err)
	}
	return utime + stime, nil
}

// parseStatusRSS returns VmRSS in kB from the text of /proc/<pid>/status.
func parseStatusRSS(status []byte) (int64, error) {
	for line := range strings.SplitSeq(string(status), "\n") {
		v, ok := strings.CutPrefix(line, "VmRSS:")
		if !ok {
			continue
		}
		v = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB"))
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("status VmRSS %q: %w", v, err)
		}
		return n, nil
	}
	return 0, errors.New("status: no VmRSS line (process gone?)")
}

// sampleProc reads a process's CPU time and RSS.
func sampleProc(pid int) (procSample, error) {
	s := procSample{At: time.Now()}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, fmt.Errorf("sample %d: %w", pid, err)
	}
	ticks, err := parseStatCPU(stat)
	if err != nil {
		return s, fmt.Errorf("sample %d: %w", pid, err)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, fmt.Errorf("sample %d: %w", pid, err)
	}
	if s.RSSKB, err = parseStatusRSS(status); err != nil {
		return s, fmt.Errorf("sample %d: %w", pid, err)
	}
	s.CPUSeconds = float64(ticks) / clockTicks
	return s, nil
}

// cpuSince is the CPU seconds a process used between two samples.
func cpuSince(a, b procSample) float64 { return b.CPUSeconds - a.CPUSeconds }

// cpuPercent is CPU use between two samples as a percentage of one core.
func cpuPercent(a, b procSample) float64 {
	wall := b.At.Sub(a.At).Seconds()
	if wall <= 0 {
		return 0
	}
	return 100 * cpuSince(a, b) / wall
}
