package compat

import (
	"bufio"
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Builders for expected replies, written as RESP bytes.

func Simple(s string) string { return "+" + s + "\r\n" }
func Err(s string) string {
	return "-" + s + "\r\n"
}
func Int(n int64) string   { return ":" + strconv.FormatInt(n, 10) + "\r\n" }
func Bulk(s string) string { return "$" + strconv.Itoa(len(s)) + "\r\n" + s + "\r\n" }
func Arr(elems ...string) string {
	return "*" + strconv.Itoa(len(elems)) + "\r\n" + strings.Join(elems, "")
}
func Bulks(items ...string) string {
	elems := make([]string, len(items))
	for i, it := range items {
		elems[i] = Bulk(it)
	}
	return Arr(elems...)
}

// respMap is a RESP3 map of the pairs kv (alternating keys and values).
func Map(kv ...string) string {
	return "%" + strconv.Itoa(len(kv)/2) + "\r\n" + strings.Join(kv, "")
}

// Fixed replies.
const (
	NullBulk  = "$-1\r\n"
	NullArray = "*-1\r\n"
	Null3     = "_\r\n"
	OK        = "+OK\r\n"
	Queued    = "+QUEUED\r\n"
)

// respValue is a parsed reply, for comparisons that ignore the order of
// unordered aggregates.
type respValue struct {
	raw   string // the whole reply's bytes for a scalar; the header for an aggregate
	elems []respValue
}

func parseReply(b []byte) (respValue, error) {
	r := bufio.NewReader(bytes.NewReader(b))
	v, err := readValue(r)
	if err != nil {
		return v, err
	}
	if r.Buffered() > 0 {
		return v, fmt.Errorf("%d bytes after the reply", r.Buffered())
	}
	return v, nil
}

func readValue(r *bufio.Reader) (respValue, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return respValue{}, err
	}
	if len(line) < 3 {
		return respValue{}, fmt.Errorf("short line %q", line)
	}
	body := line[1 : len(line)-2]
	switch line[0] {
	case '$', '=', '!':
		n, err := strconv.Atoi(body)
		if err != nil || n < 0 {
			return respValue{raw: line}, err
		}
		buf := make([]byte, n+2)
		if _, err := ioReadFull(r, buf); err != nil {
			return respValue{}, err
		}
		return respValue{raw: line + string(buf)}, nil
	case '*', '~', '%', '>', '|':
		n, err := strconv.Atoi(body)
		if err != nil {
			return respValue{}, err
		}
		if line[0] == '%' || line[0] == '|' {
			n *= 2
		}
		v := respValue{raw: line}
		for i := 0; i < n; i++ {
			e, err := readValue(r)
			if err != nil {
				return v, err
			}
			v.elems = append(v.elems, e)
		}
		return v, nil
	}
	return respValue{raw: line}, nil
}

func ioReadFull(r *bufio.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// String writes the value back as RESP.
func (v respValue) String() string {
	var b strings.Builder
	b.WriteString(v.raw)
	for _, e := range v.elems {
		b.WriteString(e.String())
	}
	return b.String()
}

// canonical returns v with the elements of its top-level aggregate
// sorted (pairs kept together when pairs is set), and, when deep is set,
// the elements of the aggregates one level down too (SCAN's key list).
func (v respValue) canonical(pairs bool) respValue {
	if len(v.elems) == 0 {
		return v
	}
	out := respValue{raw: v.raw}
	if pairs {
		type pair struct{ k, v respValue }
		ps := make([]pair, 0, len(v.elems)/2)
		for i := 0; i+1 < len(v.elems); i += 2 {
			ps = append(ps, pair{v.elems[i], v.elems[i+1]})
		}
		slices.SortFunc(ps, func(a, b pair) int { return strings.Compare(a.k.String(), b.k.String()) })
		for _, p := range ps {
			out.elems = append(out.elems, p.k, p.v)
		}
		return out
	}
	out.elems = slices.Clone(v.elems)
	slices.SortFunc(out.elems, func(a, b respValue) int { return strings.Compare(a.String(), b.String()) })
	return out
}
