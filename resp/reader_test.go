package resp

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// readReply reads one RESP2 or RESP3 value, for tests: it checks the bytes
// AppendReply writes and parses what a real Redis sends. RESP2 cannot tell
// an array from a set or a map, so those come back as KindArray; a RESP2
// null bulk is KindNull and a RESP2 null array KindNullArray.
func readReply(r *bufio.Reader) (Reply, error) {
	line, err := readLine(r)
	if err != nil {
		return Reply{}, err
	}
	if len(line) == 0 {
		return Reply{}, errors.New("empty line")
	}
	body := line[1:]
	switch line[0] {
	case '+':
		return Reply{Kind: KindSimple, Str: body}, nil
	case '-':
		return Reply{Kind: KindError, Str: body}, nil
	case ':':
		n, err := strconv.ParseInt(string(body), 10, 64)
		return Reply{Kind: KindInt, Int: n}, err
	case '_':
		return Reply{Kind: KindNull}, nil
	case '#':
		switch string(body) {
		case "t":
			return Reply{Kind: KindBool, Int: 1}, nil
		case "f":
			return Reply{Kind: KindBool}, nil
		}
		return Reply{}, fmt.Errorf("bad boolean %q", body)
	case ',':
		f, ok := ParseFloat(body)
		if !ok && string(body) != "nan" {
			return Reply{}, fmt.Errorf("bad double %q", body)
		}
		return Reply{Kind: KindDouble, Float: f, Str: body}, nil
	case '$', '=':
		n, err := strconv.Atoi(string(body))
		if err != nil {
			return Reply{}, err
		}
		if n < 0 {
			return Reply{Kind: KindNull}, nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return Reply{}, err
		}
		if buf[n] != '\r' || buf[n+1] != '\n' {
			return Reply{}, errors.New("bulk string without CRLF")
		}
		if line[0] == '=' {
			if n < 4 || buf[3] != ':' {
				return Reply{}, errors.New("verbatim string without format")
			}
			return Reply{Kind: KindVerbatim, Str: buf[4:n]}, nil
		}
		return Reply{Kind: KindBulk, Str: buf[:n]}, nil
	case '*', '~', '%':
		n, err := strconv.Atoi(string(body))
		if err != nil {
			return Reply{}, err
		}
		if n < 0 {
			return Reply{Kind: KindNullArray}, nil
		}
		kind := map[byte]Kind{'*': KindArray, '~': KindSet, '%': KindMap}[line[0]]
		if kind == KindMap {
			n *= 2
		}
		elems := make([]Reply, n)
		for i := range elems {
			if elems[i], err = readReply(r); err != nil {
				return Reply{}, err
			}
		}
		return Reply{Kind: kind, Elems: elems}, nil
	}
	return Reply{}, fmt.Errorf("unknown type byte %q", line[0])
}

func readLine(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadBytes('\n')
	if err != nil {
		return nil, err
	}
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return nil, errors.New("line without CRLF")
	}
	return line[:len(line)-2], nil
}
