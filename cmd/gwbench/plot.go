package main

import (
	"fmt"
	"path/filepath"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// series is one line of a plot.
type series struct {
	name string
	pts  plotter.XYs
}

// chart is one PNG: lines over a shared x axis.
type chart struct {
	file, title, x, y string
	lines             []series
	// logY: a log y axis when the values span ×10 or more (latencies below and past saturation).
	logY bool
}

// writePlots draws the charts the results allow and returns their file names.
func writePlots(dir string, res *results) ([]string, error) {
	var charts []chart
	if len(res.Sessions) > 0 {
		charts = append(charts, sessionCharts(res.Sessions)...)
	}
	if len(res.Send) > 0 {
		charts = append(charts, sendCharts(res.Send)...)
	}
	if len(res.Inbound) > 0 {
		charts = append(charts, inboundCharts(res.Inbound)...)
	}
	var files []string
	for _, c := range charts {
		if err := c.save(filepath.Join(dir, c.file)); err != nil {
			return nil, fmt.Errorf("plot %s: %w", c.file, err)
		}
		files = append(files, c.file)
	}
	return files, nil
}

func (c chart) save(path string) error {
	p := plot.New()
	p.Title.Text = c.title
	p.X.Label.Text = c.x
	p.Y.Label.Text = c.y
	p.Legend.Top = true
	p.Legend.Left = true
	var xs, ys []float64
	var args []any
	for _, l := range c.lines {
		if len(l.pts) == 0 {
			continue
		}
		for _, pt := range l.pts {
			xs = append(xs, pt.X)
			ys = append(ys, pt.Y)
		}
		args = append(args, l.name, l.pts)
	}
	if len(args) == 0 {
		return fmt.Errorf("no data")
	}
	// A log x axis for sizes and rates growing ×10, when there is a range to draw; LogTicks
	// needs positive values.
	slices.Sort(xs)
	if xs[0] > 0 && xs[len(xs)-1]/xs[0] >= 10 {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	slices.Sort(ys)
	if c.logY && ys[0] > 0 && ys[len(ys)-1]/ys[0] >= 10 {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	} else {
		p.Y.Min = 0
	}
	if err := plotutil.AddLinePoints(p, args...); err != nil {
		return err
	}
	return p.Save(20*vg.Centimeter, 12*vg.Centimeter, path)
}

func sessionCharts(rs []sessionsResult) []chart {
	var rssGw, rssBl, cpuGw, cpuBl, margGw, margBl, heapGw, heapBl plotter.XYs
	sizes := make([]int, len(rs))
	gwRSS, blRSS, gwHeap, blHeap := make([]float64, len(rs)), make([]float64, len(rs)), make([]float64, len(rs)), make([]float64, len(rs))
	for i, r := range rs {
		n := float64(r.Sessions)
		sizes[i] = r.Sessions
		gwRSS[i], gwHeap[i] = float64(r.Gateway.RSSKB), float64(r.Gateway.Runtime.HeapInuseKB)
		rssGw = append(rssGw, plotter.XY{X: n, Y: gwRSS[i] / 1024})
		cpuGw = append(cpuGw, plotter.XY{X: n, Y: r.Gateway.IdleCPUPercent})
		if r.Baseline != nil {
			blRSS[i], blHeap[i] = float64(r.Baseline.RSSKB), float64(r.Baseline.Runtime.HeapInuseKB)
			rssBl = append(rssBl, plotter.XY{X: n, Y: blRSS[i] / 1024})
			cpuBl = append(cpuBl, plotter.XY{X: n, Y: r.Baseline.IdleCPUPercent})
		}
	}
	for i := range rs {
		n := float64(sizes[i])
		if v, ok := marginal(sizes, gwRSS, i); ok {
			margGw = append(margGw, plotter.XY{X: n, Y: v})
			h, _ := marginal(sizes, gwHeap, i)
			heapGw = append(heapGw, plotter.XY{X: n, Y: h})
			if rs[i].Baseline != nil && rs[0].Baseline != nil {
				v, _ := marginal(sizes, blRSS, i)
				margBl = append(margBl, plotter.XY{X: n, Y: v})
				h, _ := marginal(sizes, blHeap, i)
				heapBl = append(heapBl, plotter.XY{X: n, Y: h})
			}
		}
	}
	charts := []chart{
		{file: "sessions-rss.png", title: "RSS with every session connected and idle", x: "sessions", y: "RSS (MB)",
			lines: []series{{"gateway", rssGw}, {"bare whatsmeow", rssBl}}},
		{file: "sessions-idle-cpu.png", title: "Idle CPU", x: "sessions", y: "% of one core",
			lines: []series{{"gateway", cpuGw}, {"bare whatsmeow", cpuBl}}},
	}
	if len(margGw) > 0 {
		charts = append(charts, chart{file: "sessions-marginal.png",
			title: fmt.Sprintf("Marginal cost of a session (from %d sessions)", sizes[0]), x: "sessions", y: "KB per session",
			lines: []series{{"gateway RSS", margGw}, {"bare RSS", margBl}, {"gateway heap in use", heapGw}, {"bare heap in use", heapBl}}})
	}
	return charts
}

// bySize groups rows by their session count, in order of first appearance.
func bySize[T any](rows []T, size func(T) int) ([]int, map[int][]T) {
	var order []int
	groups := map[int][]T{}
	for _, r := range rows {
		n := size(r)
		if _, ok := groups[n]; !ok {
			order = append(order, n)
		}
		groups[n] = append(groups[n], r)
	}
	return order, groups
}

func sendCharts(rs []sendResult) []chart {
	order, groups := bySize(rs, func(r sendResult) int { return r.Sessions })
	var cpu, lat []series
	for _, n := range order {
		var gw, bl, acc, del, blDel plotter.XYs
		for _, r := range groups[n] {
			gw = append(gw, plotter.XY{X: r.Rate, Y: r.Gateway.CPUPerMessageMS})
			if r.Gateway.Accept != nil {
				acc = append(acc, plotter.XY{X: r.Rate, Y: r.Gateway.Accept.P99})
			}
			del = append(del, plotter.XY{X: r.Rate, Y: r.Gateway.Delivered.P99})
			if r.Baseline != nil {
				bl = append(bl, plotter.XY{X: r.Rate, Y: r.Baseline.CPUPerMessageMS})
				blDel = append(blDel, plotter.XY{X: r.Rate, Y: r.Baseline.Delivered.P99})
			}
		}
		cpu = append(cpu, series{fmt.Sprintf("gateway, %d sessions", n), gw}, series{fmt.Sprintf("bare, %d sessions", n), bl})
		lat = append(lat, series{fmt.Sprintf("gateway accept p99, %d", n), acc}, series{fmt.Sprintf("gateway delivered p99, %d", n), del},
			series{fmt.Sprintf("bare delivered p99, %d", n), blDel})
	}
	return []chart{
		{file: "send-cpu.png", title: "CPU per message sent and delivered", x: "offered messages/s", y: "CPU ms per message", lines: cpu},
		{file: "send-latency.png", title: "Send latency (p99)", x: "offered messages/s", y: "ms", lines: lat, logY: true},
	}
}

func inboundCharts(rs []inboundResult) []chart {
	order, groups := bySize(rs, func(r inboundResult) int { return r.Sessions })
	var cpu, lat []series
	for _, n := range order {
		var gw, bl, gwLat, blLat plotter.XYs
		for _, r := range groups[n] {
			gw = append(gw, plotter.XY{X: r.Rate, Y: r.Gateway.CPUPerEventMS})
			gwLat = append(gwLat, plotter.XY{X: r.Rate, Y: r.Gateway.Latency.P99})
			if r.Baseline != nil {
				bl = append(bl, plotter.XY{X: r.Rate, Y: r.Baseline.CPUPerEventMS})
				blLat = append(blLat, plotter.XY{X: r.Rate, Y: r.Baseline.Latency.P99})
			}
		}
		cpu = append(cpu, series{fmt.Sprintf("gateway, %d sessions", n), gw}, series{fmt.Sprintf("bare, %d sessions", n), bl})
		lat = append(lat, series{fmt.Sprintf("gateway → webhook, %d", n), gwLat}, series{fmt.Sprintf("bare events.Message, %d", n), blLat})
	}
	return []chart{
		{file: "inbound-cpu.png", title: "CPU per inbound message", x: "messages/s", y: "CPU ms per message", lines: cpu},
		{file: "inbound-latency.png", title: "Inbound latency (p99)", x: "messages/s", y: "ms", lines: lat, logY: true},
	}
}
