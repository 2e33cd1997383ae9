package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/acme/purchase-transfer/internal/operator"
)

// progressBar shows an import's progress: a bar redrawn in place on a
// terminal, or, in a log or a pipe, a plain line at each tenth of the input
// (each 10,000 lines when its size is unknown).
type progressBar struct {
	w        io.Writer
	name     string
	terminal bool

	lastDraw    time.Time
	drawn       bool
	latest      operator.Progress
	nextPercent int64
	nextLines   int
}

// redrawEvery limits a terminal's redraws.
const redrawEvery = 100 * time.Millisecond

func newProgressBar(w io.Writer, name string) *progressBar {
	return &progressBar{w: w, name: name, terminal: isTerminal(w), nextPercent: 10, nextLines: 10_000}
}

// isTerminal tells whether w is a terminal, where progress is redrawn in place.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func (b *progressBar) update(p operator.Progress) {
	b.latest = p
	if b.terminal {
		if time.Since(b.lastDraw) < redrawEvery {
			return
		}
		b.lastDraw = time.Now()
		b.drawn = true
		fmt.Fprint(b.w, "\r\033[K"+b.bar(p))
		return
	}
	switch {
	case p.TotalBytes > 0:
		pct := p.Bytes * 100 / p.TotalBytes
		if pct < b.nextPercent || pct >= 100 {
			return
		}
		b.nextPercent = pct/10*10 + 10
	case p.Lines < b.nextLines:
		return
	default:
		b.nextLines = p.Lines/10_000*10_000 + 10_000
	}
	fmt.Fprintf(b.w, "import %s: %s\n", b.name, b.stats(p))
}

// finish leaves the terminal's bar at its final state on its own line.
func (b *progressBar) finish() {
	if b.terminal && b.drawn {
		fmt.Fprint(b.w, "\r\033[K"+b.bar(b.latest)+"\n")
	}
}

const barWidth = 24

func (b *progressBar) bar(p operator.Progress) string {
	if p.TotalBytes <= 0 {
		return b.stats(p)
	}
	filled := int(int64(barWidth) * p.Bytes / p.TotalBytes)
	filled = min(max(filled, 0), barWidth)
	return "[" + strings.Repeat("=", filled) + strings.Repeat(" ", barWidth-filled) + "] " + b.stats(p)
}

// stats is "45% 45,000 lines, 12,345 lines/s, ETA 4s" (percent and ETA only
// when the input's size is known).
func (b *progressBar) stats(p operator.Progress) string {
	var parts []string
	if p.TotalBytes > 0 {
		parts = append(parts, fmt.Sprintf("%3d%% %s lines", p.Bytes*100/p.TotalBytes, thousands(int64(p.Lines))))
	} else {
		parts = append(parts, thousands(int64(p.Lines))+" lines")
	}
	if secs := p.Elapsed.Seconds(); secs > 0 {
		parts = append(parts, thousands(int64(float64(p.Lines)/secs))+" lines/s")
	}
	if p.TotalBytes > 0 && p.Bytes > 0 && p.Bytes < p.TotalBytes {
		eta := time.Duration(float64(p.Elapsed) * float64(p.TotalBytes-p.Bytes) / float64(p.Bytes))
		parts = append(parts, "ETA "+eta.Round(time.Second).String())
	}
	return strings.Join(parts, ", ")
}

// thousands writes n with comma separators: 1234567 → 1,234,567.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	if n < 0 {
		return "-" + thousands(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
