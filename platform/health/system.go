package health

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/disk"
	"github.com/shirou/gopsutil/v4/mem"
	"github.com/shirou/gopsutil/v4/process"
)

// System is the body of GET /health/system.
type System struct {
	UptimeSeconds float64   `json:"uptimeSeconds"`
	Timestamp     time.Time `json:"timestamp"`
	Goroutines    int       `json:"goroutines"`
	CPU           struct {
		Cores int `json:"cores"`
		// ProcessPercent is this process's CPU use since the previous call (or start), in % of one core.
		ProcessPercent float64 `json:"processPercent"`
		// SystemPercent is the machine's CPU use over the last 100 ms, in % of all cores.
		SystemPercent float64 `json:"systemPercent"`
	} `json:"cpu"`
	Memory struct {
		ProcessRSSBytes uint64  `json:"processRssBytes"`
		GoHeapBytes     uint64  `json:"goHeapBytes"`
		SystemTotal     uint64  `json:"systemTotalBytes"`
		SystemUsed      uint64  `json:"systemUsedBytes"`
		SystemPercent   float64 `json:"systemUsedPercent"`
	} `json:"memory"`
	Disk struct {
		Path        string  `json:"path"`
		TotalBytes  uint64  `json:"totalBytes"`
		FreeBytes   uint64  `json:"freeBytes"`
		UsedPercent float64 `json:"usedPercent"`
	} `json:"disk"`
}

// systemProbe reads the machine and process figures.
type systemProbe struct {
	started  time.Time
	diskPath string
	proc     *process.Process
}

func newSystemProbe(started time.Time, diskPath string) (*systemProbe, error) {
	p, err := process.NewProcess(int32(os.Getpid()))
	if err != nil {
		return nil, fmt.Errorf("inspect own process: %w", err)
	}
	return &systemProbe{started: started, diskPath: diskPath, proc: p}, nil
}

func (s *systemProbe) read(ctx context.Context) (System, error) {
	var out System
	out.UptimeSeconds = time.Since(s.started).Seconds()
	out.Timestamp = time.Now().UTC()
	out.Goroutines = runtime.NumGoroutine()
	out.CPU.Cores = runtime.NumCPU()
	if pct, err := s.proc.PercentWithContext(ctx, 0); err == nil {
		out.CPU.ProcessPercent = pct
	}
	if pcts, err := cpu.PercentWithContext(ctx, 100*time.Millisecond, false); err == nil && len(pcts) == 1 {
		out.CPU.SystemPercent = pcts[0]
	}
	if mi, err := s.proc.MemoryInfoWithContext(ctx); err == nil {
		out.Memory.ProcessRSSBytes = mi.RSS
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	out.Memory.GoHeapBytes = ms.HeapAlloc
	vm, err := mem.VirtualMemoryWithContext(ctx)
	if err != nil {
		return out, fmt.Errorf("read memory: %w", err)
	}
	out.Memory.SystemTotal, out.Memory.SystemUsed, out.Memory.SystemPercent = vm.Total, vm.Used, vm.UsedPercent
	out.Disk.Path = s.diskPath
	du, err := disk.UsageWithContext(ctx, s.diskPath)
	if err != nil {
		return out, fmt.Errorf("read disk usage of %s: %w", s.diskPath, err)
	}
	out.Disk.TotalBytes, out.Disk.FreeBytes, out.Disk.UsedPercent = du.Total, du.Free, du.UsedPercent
	return out, nil
}
