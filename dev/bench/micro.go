package bench

import (
	"bufio"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// Micro is one Go benchmark's results over its -count runs, by unit
// ("ns/op", "cpu-ns/op", "B/op", "allocs/op").
type Micro struct {
	Name   string
	Values map[string][]float64
}

// Median of a unit's values, 0 when absent.
func (m Micro) Median(unit string) float64 { return Median(m.Values[unit]) }

// Range is the smallest and largest value of a unit.
func (m Micro) Range(unit string) (lo, hi float64) {
	for i, v := range m.Values[unit] {
		if i == 0 || v < lo {
			lo = v
		}
		if i == 0 || v > hi {
			hi = v
		}
	}
	return lo, hi
}

var procsSuffix = regexp.MustCompile(`-\d+$`)

// ParseMicro reads `go test -bench -benchmem` output, keeping the order in
// which benchmarks first appear.
func ParseMicro(r io.Reader) ([]Micro, error) {
	var out []Micro
	index := map[string]int{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 || !strings.HasPrefix(fields[0], "Benchmark") {
			continue
		}
		if _, err := strconv.Atoi(fields[1]); err != nil {
			continue // not a result line
		}
		name := procsSuffix.ReplaceAllString(strings.TrimPrefix(fields[0], "Benchmark"), "")
		i, ok := index[name]
		if !ok {
			i = len(out)
			index[name] = i
			out = append(out, Micro{Name: name, Values: map[string][]float64{}})
		}
		for j := 2; j+1 < len(fields); j += 2 {
			v, err := strconv.ParseFloat(fields[j], 64)
			if err != nil {
				break
			}
			out[i].Values[fields[j+1]] = append(out[i].Values[fields[j+1]], v)
		}
	}
	return out, sc.Err()
}
