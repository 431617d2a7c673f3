package server

import (
	"bytes"
	"math"
	"slices"

	"github.com/tidwall/redcon"

	"github.com/raftcache/raftcache/resp"
)

// framer parses the bytes a client sends into requests: each request's
// arguments, ready for dispatch. It reads the stream as Redis 7.0's
// processInlineBuffer and processMultibulkBuffer do, with the same
// leniencies and the same errors, and it checks every length before it
// trusts it: a claimed size only ever bounds a copy of bytes that have
// arrived, so no claim makes it allocate.
//
// Input comes in pieces of any size (feed); the result does not depend on
// how the stream was cut. The requests collect in data, ends and reqs
// until the connection has served them (consume). A framer is owned by
// one connection's goroutine.
type framer struct {
	maxBulk      int64
	maxMultibulk int64
	maxQuery     int64
	// unauth is set by the connection before each feed: while the client
	// has yet to authenticate, requests are bounded by maxUnauthArgs and
	// maxUnauthBulk, and feed stops after each request, so the next one
	// is judged after this one has run (it may be AUTH).
	unauth bool

	state    frameState
	line     lineScan
	args     int64 // bulks still to come in the current multibulk request
	bulkLeft int64 // payload bytes still to come in the current bulk
	skip     int   // bytes to drop before the next state
	reqBytes int64 // input bytes of the request being read
	inline   []byte

	// The requests framed and not yet consumed. The arguments' bytes lie
	// back to back in data: argument i ends at ends[i] and starts where
	// argument i-1 ends (at 0 for the first). reqs[j] is the number of
	// arguments up to the end of complete request j. After the last
	// complete request come the arguments of the one being read, the last
	// of them possibly in part.
	data []byte
	ends []int
	reqs []int

	// err is the first error; the framer stops at it for good.
	err error
}

type frameState uint8

const (
	stRequest  frameState = iota // at the first byte of a request
	stInline                     // in an inline request line, looking for '\n'
	stMbulk                      // in "*<count>", looking for '\r'
	stMbulkEnd                   // after that '\r': one byte to drop
	stBulk                       // in "$<len>", looking for '\r'
	stBulkEnd                    // after that '\r': one byte to drop
	stData                       // in bulk data
	stDataEnd                    // after bulk data: two bytes to drop
)

// lineScan follows one line of a request. Redis finds line ends with
// strchr, which stops at a NUL byte: a line with a NUL before its end
// never ends, and only its length can end it, with a "too big" error.
type lineScan struct {
	n      int64 // bytes of the line seen so far
	dead   bool  // a NUL came before the line's end
	first  byte  // a count line's type byte ('*' or, hopefully, '$')
	num    [21]byte
	numLen int // bytes after first kept in num; more mark the number invalid
}

// maxBatch is the most complete requests feed collects before it stops,
// so that a pipeline of tiny requests is served in bounded batches.
const maxBatch = 1024

// Past these capacities consume lets go of the framer's buffers once the
// requests in them are served, so that an idle connection holds little
// whatever it sent before.
const (
	keepData = 16 << 10
	keepArgs = 1024
)

// Errors that close the connection without a reply.
type guardError struct{ msg string }

func (e *guardError) Error() string { return e.msg }

var (
	errQueryBufferLimit = &guardError{"query buffer limit reached"}
	errFramerPanic      = &guardError{"internal error while reading the request"}
)

func newFramer(lim Limits) framer {
	return framer{maxBulk: lim.ProtoMaxBulkLen, maxMultibulk: lim.MaxMultibulkLen, maxQuery: lim.QueryBufferLimit}
}

// feed reads requests from in and returns how many bytes it consumed. It
// stops early at an error, at the end of each request while the client is
// unauthenticated, and once maxBatch requests wait to be served.
func (f *framer) feed(in []byte) int {
	i := 0
	for i < len(in) && f.err == nil && len(f.reqs) < maxBatch {
		k := 0
		ended := false
		switch f.state {
		case stRequest:
			f.line = lineScan{}
			if in[i] == '*' {
				f.state = stMbulk
				if k = f.simpleCountLine(in[i:]); k == 0 {
					k, ended = f.scanCountLine(in[i:])
				}
			} else {
				f.state = stInline
				k, ended = f.scanInline(in[i:])
			}
		case stInline:
			k, ended = f.scanInline(in[i:])
		case stMbulk, stBulk:
			if f.line.n == 0 {
				k = f.simpleCountLine(in[i:])
			}
			if k == 0 {
				k, ended = f.scanCountLine(in[i:])
			}
		case stMbulkEnd, stBulkEnd:
			k, ended = 1, f.endCountLine()
		case stData:
			rest := in[i:]
			if int64(len(rest)) >= f.bulkLeft+2 {
				// The data and the two bytes after it are here.
				k = int(f.bulkLeft) + 2
				f.data = append(f.data, rest[:f.bulkLeft]...)
				f.bulkLeft = 0
				ended = f.endBulk()
				break
			}
			k = int(min(int64(len(rest)), f.bulkLeft))
			f.data = append(f.data, rest[:k]...)
			f.bulkLeft -= int64(k)
			if f.bulkLeft == 0 {
				f.state, f.skip = stDataEnd, 2
			}
		case stDataEnd:
			k = min(len(in)-i, f.skip)
			f.skip -= k
			if f.skip == 0 {
				ended = f.endBulk()
			}
		}
		i += k
		f.reqBytes += int64(k)
		if f.reqBytes > f.maxQuery && f.err == nil {
			f.err = errQueryBufferLimit
		}
		if ended {
			f.reqBytes = 0
			if f.unauth {
				break
			}
		}
	}
	return i
}

// endBulk finishes a bulk whose data and the two bytes after it were read,
// and reports whether that ended the request.
func (f *framer) endBulk() bool {
	f.ends = append(f.ends, len(f.data))
	f.args--
	if f.args == 0 {
		f.endRequest()
		return true
	}
	f.state = stBulk
	f.line = lineScan{}
	return false
}

// endRequest marks the end of a request.
func (f *framer) endRequest() {
	f.state = stRequest
	f.reqs = append(f.reqs, len(f.ends))
}

// argEnd is where the first n arguments end in data.
func (f *framer) argEnd(n int) int {
	if n == 0 {
		return 0
	}
	return f.ends[n-1]
}

// complete returns how many arguments the complete requests have.
func (f *framer) complete() int {
	if len(f.reqs) == 0 {
		return 0
	}
	return f.reqs[len(f.reqs)-1]
}

// dropPartial forgets the request that an error cut short.
func (f *framer) dropPartial() {
	n := f.complete()
	f.ends = f.ends[:n]
	f.data = f.data[:f.argEnd(n)]
}

// requests appends the complete requests to cmds, their arguments to
// argv (from its start), and returns both. The arguments alias data: they
// are valid until consume, and each is capped so that appending to one
// cannot overwrite the next.
func (f *framer) requests(cmds []redcon.Command, argv [][]byte) ([]redcon.Command, [][]byte) {
	n := f.complete()
	argv = slices.Grow(argv[:0], n)[:n]
	start := 0
	for i, end := range f.ends[:n] {
		argv[i] = f.data[start:end:end]
		start = end
	}
	first := 0
	for _, last := range f.reqs {
		cmds = append(cmds, redcon.Command{Args: argv[first:last:last]})
		first = last
	}
	return cmds, argv
}

// consume forgets the complete requests, once served, and moves the one
// being read to the front of the buffers. Large buffers are let go of
// when what remains is small.
func (f *framer) consume() {
	if len(f.reqs) == 0 {
		return
	}
	n := f.complete()
	start := f.argEnd(n)
	f.reqs = f.reqs[:0]
	if rest := f.data[start:]; cap(f.data) > keepData && len(rest) <= keepData/2 {
		// A fresh buffer of a socket read's size: the next request is
		// likely small again, and a large one regrows it from there.
		f.data = append(make([]byte, 0, max(len(rest), inBufSize)), rest...)
	} else {
		f.data = f.data[:copy(f.data, rest)]
	}
	if rest := f.ends[n:]; cap(f.ends) > keepArgs && len(rest) <= keepArgs/2 {
		f.ends = append([]int(nil), rest...)
	} else {
		f.ends = f.ends[:copy(f.ends, rest)]
	}
	for i := range f.ends {
		f.ends[i] -= start
	}
	if cap(f.reqs) > maxBatch {
		f.reqs = nil
	}
}

// simpleCountLine is the fast path of the count lines clients send: when
// in starts with a whole "*<count>" or "$<len>" line, the byte after its
// '\r' included, whose number is plain (1 to 18 digits, no sign, no
// leading zero) and within every limit, it takes the line as
// scanCountLine and endCountLine would and returns its length. Otherwise
// it returns 0 and changes nothing, and the general path judges the line.
func (f *framer) simpleCountLine(in []byte) int {
	var n int64
	i := 1
	for ; i < len(in) && i <= 19; i++ {
		c := in[i]
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int64(c-'0')
	}
	digits := i - 1
	if digits == 0 || digits > 18 || i+1 >= len(in) || in[i] != '\r' || in[1] == '0' && digits > 1 {
		return 0
	}
	switch {
	case f.state == stMbulk && in[0] == '*':
		if n < 1 || n > f.maxMultibulk || n > math.MaxInt32 || f.unauth && n > maxUnauthArgs {
			return 0
		}
		f.args = n
		f.state = stBulk
		f.line = lineScan{}
	case f.state == stBulk && in[0] == '$':
		if n > f.maxBulk || f.unauth && n > maxUnauthBulk {
			return 0
		}
		f.bulkLeft = n
		if n == 0 {
			f.state, f.skip = stDataEnd, 2
		} else {
			f.state = stData
		}
	default:
		return 0
	}
	return i + 2
}

// scanCountLine reads a "*<count>" or "$<len>" line up to its '\r' and,
// when the byte after that is here too, judges the line.
func (f *framer) scanCountLine(in []byte) (int, bool) {
	l := &f.line
	if !l.dead {
		end := bytes.IndexByte(in, '\r')
		seg := in
		if end >= 0 {
			seg = in[:end]
		}
		if bytes.IndexByte(seg, 0) < 0 {
			for _, c := range seg {
				if l.n == 0 {
					l.first = c
				} else {
					if l.numLen < len(l.num) {
						l.num[l.numLen] = c
					}
					l.numLen++
				}
				l.n++
			}
			if end < 0 {
				if l.n > maxInlineLen {
					f.tooBigCountLine()
				}
				return len(in), false
			}
			if l.n == 0 {
				l.first = '\r' // an empty line: Redis looks at the '\r' itself
			}
			if f.state == stMbulk {
				f.state = stMbulkEnd
			} else {
				f.state = stBulkEnd
			}
			if end+1 < len(in) {
				return end + 2, f.endCountLine()
			}
			return end + 1, false
		}
		l.dead = true
	}
	l.n += int64(len(in))
	if l.n > maxInlineLen {
		f.tooBigCountLine()
	}
	return len(in), false
}

func (f *framer) tooBigCountLine() {
	if f.state == stMbulk {
		f.err = resp.ErrProtoTooBigMbulkCount
	} else {
		f.err = resp.ErrProtoTooBigBulkCount
	}
}

// endCountLine judges a count line once the byte after its '\r' has been
// dropped, and reports whether that ended the request (an empty
// multibulk).
func (f *framer) endCountLine() bool {
	if f.state == stMbulkEnd {
		f.endMbulkLine()
		return f.state == stRequest
	}
	f.endBulkLine()
	return false
}

// endMbulkLine judges "*<count>" as Redis does: not a number or above
// INT_MAX, then above 10 before authentication, then above our own limit;
// zero or negative counts are requests to ignore.
func (f *framer) endMbulkLine() {
	n, ok := resp.ParseInt(f.line.numBytes())
	switch {
	case !ok || n > math.MaxInt32:
		f.err = resp.ErrProtoInvalidMultibulkLen
	case n > maxUnauthArgs && f.unauth:
		f.err = resp.ErrProtoUnauthMultibulkLen
	case n > f.maxMultibulk:
		f.err = resp.ErrProtoInvalidMultibulkLen
	case n <= 0:
		f.state = stRequest
	default:
		f.args = n
		f.state = stBulk
		f.line = lineScan{}
	}
}

// endBulkLine judges "$<len>".
func (f *framer) endBulkLine() {
	if f.line.first != '$' {
		f.err = resp.ErrProtoExpectedDollar(f.line.first)
		return
	}
	n, ok := resp.ParseInt(f.line.numBytes())
	switch {
	case !ok || n < 0 || n > f.maxBulk:
		f.err = resp.ErrProtoInvalidBulkLen
	case n > maxUnauthBulk && f.unauth:
		f.err = resp.ErrProtoUnauthBulkLen
	default:
		f.bulkLeft = n
		if n == 0 {
			f.state, f.skip = stDataEnd, 2
		} else {
			f.state = stData
		}
	}
}

func (l *lineScan) numBytes() []byte {
	if l.numLen > len(l.num) {
		return nil // longer than any number string2ll accepts
	}
	return l.num[:l.numLen]
}

// scanInline reads an inline request line up to its '\n' and frames it.
func (f *framer) scanInline(in []byte) (int, bool) {
	l := &f.line
	if l.dead {
		l.n += int64(len(in))
		if l.n > maxInlineLen {
			f.err = resp.ErrProtoTooBigInline
		}
		return len(in), false
	}
	end := bytes.IndexByte(in, '\n')
	seg := in
	if end >= 0 {
		seg = in[:end]
	}
	if z := bytes.IndexByte(seg, 0); z >= 0 {
		l.dead = true
		f.inline = f.inline[:0]
		l.n += int64(len(in))
		if l.n > maxInlineLen {
			f.err = resp.ErrProtoTooBigInline
		}
		return len(in), false
	}
	l.n += int64(len(seg))
	// The line may hold 64 KiB besides its "\r\n".
	if l.n > maxInlineLen+1 {
		f.err = resp.ErrProtoTooBigInline
		return len(seg), false
	}
	if end < 0 {
		f.inline = append(f.inline, seg...)
		return len(in), false
	}
	line := seg
	if len(f.inline) > 0 {
		f.inline = append(f.inline, seg...)
		line = f.inline
	}
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	if len(line) > maxInlineLen {
		f.err = resp.ErrProtoTooBigInline
		return end + 1, false
	}
	args := len(f.ends)
	var ok bool
	f.data, f.ends, ok = splitArgs(line, f.data, f.ends)
	if cap(f.inline) > 4<<10 {
		f.inline = nil
	} else {
		f.inline = f.inline[:0]
	}
	if !ok {
		f.err = resp.ErrProtoUnbalancedQuotes
		return end + 1, false
	}
	f.state = stRequest
	if len(f.ends) > args { // a blank line is no request
		f.endRequest()
	}
	return end + 1, true
}

// splitArgs splits an inline request line into arguments exactly as
// Redis's sdssplitargs does: blanks separate arguments; "double quotes"
// take \xHH and the escapes \n \r \t \b \a, and any other escaped byte
// stands for itself; 'single quotes' take only \'; a closing quote must be
// followed by a blank or the end of the line, and an unclosed quote makes
// the line invalid (ok is false). A quote may start in the middle of an
// argument (a"b c" is one argument, "ab c"). Each argument's bytes are
// appended to buf and its end offset in buf to ends. line holds no NUL byte (the
// caller guarantees it); past its end reads as NUL, as in C.
func splitArgs(line, buf []byte, ends []int) ([]byte, []int, bool) {
	at := func(i int) byte {
		if i < len(line) {
			return line[i]
		}
		return 0
	}
	i := 0
	for {
		for i < len(line) && isCSpace(line[i]) {
			i++
		}
		if i >= len(line) {
			return buf, ends, true
		}
		inq, insq, done := false, false, false
		for !done {
			if !inq && !insq {
				// Plain bytes, in bulk.
				j := i
				for j < len(line) && !isPlainEnd(line[j]) {
					j++
				}
				buf = append(buf, line[i:j]...)
				i = j
			}
			c := at(i)
			switch {
			case inq:
				switch {
				case c == '\\' && at(i+1) == 'x' && isHex(at(i+2)) && isHex(at(i+3)):
					buf = append(buf, unhex(at(i+2))<<4|unhex(at(i+3)))
					i += 3
				case c == '\\' && at(i+1) != 0:
					i++
					switch e := at(i); e {
					case 'n':
						buf = append(buf, '\n')
					case 'r':
						buf = append(buf, '\r')
					case 't':
						buf = append(buf, '\t')
					case 'b':
						buf = append(buf, '\b')
					case 'a':
						buf = append(buf, '\a')
					default:
						buf = append(buf, e)
					}
				case c == '"':
					if n := at(i + 1); n != 0 && !isCSpace(n) {
						return buf, ends, false
					}
					done = true
				case c == 0:
					return buf, ends, false
				default:
					buf = append(buf, c)
				}
			case insq:
				switch {
				case c == '\\' && at(i+1) == '\'':
					i++
					buf = append(buf, '\'')
				case c == '\'':
					if n := at(i + 1); n != 0 && !isCSpace(n) {
						return buf, ends, false
					}
					done = true
				case c == 0:
					return buf, ends, false
				default:
					buf = append(buf, c)
				}
			default:
				switch c {
				case ' ', '\n', '\r', '\t', 0:
					done = true
				case '"':
					inq = true
				case '\'':
					insq = true
				default:
					buf = append(buf, c)
				}
			}
			if at(i) != 0 {
				i++
			}
		}
		ends = append(ends, len(buf))
	}
}

// isPlainEnd reports whether c ends a run of plain bytes in an unquoted
// argument: a blank that ends the argument or a quote that starts a
// quoted part.
func isPlainEnd(c byte) bool {
	return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '"' || c == '\''
}

// isCSpace is C's isspace in the C locale.
func isCSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}
