// Package config reads and rewrites raftcache's configuration file.
//
// The file has redis.conf's syntax: one directive per line, a name and its
// arguments separated by spaces; blank lines and lines starting with '#'
// are ignored; an argument may be quoted — "double quotes" with the
// escapes \n \r \t \b \a \\ \" and \xHH, or 'single quotes' with \' — as
// Redis's sdssplitargs reads it. Names are case-insensitive. "include
// PATH" reads another file (a glob pattern reads every match, in order)
// in place; a relative PATH is taken from the directory of the file that
// includes it. raftcache's options are named as its flags (see
// cmd/raftcache).
//
// Rewrite writes changed settings back into the file, as CONFIG REWRITE
// does: comments, order and unchanged lines are kept.
package config

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Directive is one line of a configuration file.
type Directive struct {
	Name string // lower case
	Args []string
	File string
	Line int
}

// Value is the directive's arguments joined by spaces, as a flag takes
// them.
func (d Directive) Value() string { return strings.Join(d.Args, " ") }

// Where names the directive's file and line for messages.
func (d Directive) Where() string { return d.File + ":" + strconv.Itoa(d.Line) }

// maxIncludeDepth bounds nested includes, so a file that includes itself
// fails instead of recursing for ever.
const maxIncludeDepth = 16

// Parse reads the file at path and every file it includes, and returns
// their directives in order (include directives replaced by the included
// files' directives).
func Parse(path string) ([]Directive, error) {
	return parseFile(path, 0)
}

func parseFile(path string, depth int) ([]Directive, error) {
	if depth > maxIncludeDepth {
		return nil, fmt.Errorf("%s: includes nested more than %d deep (does a file include itself?)", path, maxIncludeDepth)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config file: %w", err)
	}
	lines, err := parseLines(path, data)
	if err != nil {
		return nil, err
	}
	var out []Directive
	for _, d := range lines {
		if d.Name != "include" {
			out = append(out, d)
			continue
		}
		if len(d.Args) != 1 {
			return nil, fmt.Errorf("%s: include takes one path", d.Where())
		}
		pattern := d.Args[0]
		if !filepath.IsAbs(pattern) {
			pattern = filepath.Join(filepath.Dir(path), pattern)
		}
		matches, err := filepath.Glob(pattern)
		if err != nil {
			return nil, fmt.Errorf("%s: include %q: %w", d.Where(), d.Args[0], err)
		}
		if len(matches) == 0 && !hasMeta(pattern) {
			return nil, fmt.Errorf("%s: include %q: %w", d.Where(), d.Args[0], os.ErrNotExist)
		}
		for _, m := range matches {
			inc, err := parseFile(m, depth+1)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", d.Where(), err)
			}
			out = append(out, inc...)
		}
	}
	return out, nil
}

func hasMeta(p string) bool { return strings.ContainsAny(p, `*?[\`) }

// parseLines splits a file's text into directives, includes left as they
// are.
func parseLines(file string, data []byte) ([]Directive, error) {
	var out []Directive
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for n := 1; sc.Scan(); n++ {
		d, ok, err := parseLine(sc.Text())
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", file, n, err)
		}
		if ok {
			d.File, d.Line = file, n
			out = append(out, d)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	return out, nil
}

// parseLine reads one line; ok is false for a blank line or a comment.
func parseLine(line string) (d Directive, ok bool, err error) {
	line = strings.TrimSpace(line)
	if line == "" || line[0] == '#' {
		return d, false, nil
	}
	args, err := SplitArgs(line)
	if err != nil {
		return d, false, err
	}
	if len(args) == 0 {
		return d, false, nil
	}
	return Directive{Name: strings.ToLower(args[0]), Args: args[1:]}, true, nil
}

// ErrUnbalancedQuotes is SplitArgs's error for a quote that does not end
// where an argument may end.
var ErrUnbalancedQuotes = errors.New("unbalanced quotes in configuration line")

// SplitArgs splits a line into arguments as Redis's sdssplitargs does.
func SplitArgs(line string) ([]string, error) {
	var out []string
	i := 0
	for {
		for i < len(line) && isSpace(line[i]) {
			i++
		}
		if i == len(line) {
			return out, nil
		}
		var cur []byte
		inDouble, inSingle, done := false, false, false
		for !done {
			switch {
			case inDouble:
				switch {
				case i >= len(line):
					return nil, ErrUnbalancedQuotes
				case line[i] == '\\' && i+3 < len(line) && line[i+1] == 'x' && isHex(line[i+2]) && isHex(line[i+3]):
					v, _ := strconv.ParseUint(line[i+2:i+4], 16, 8)
					cur = append(cur, byte(v))
					i += 3
				case line[i] == '\\' && i+1 < len(line):
					i++
					cur = append(cur, unescape(line[i]))
				case line[i] == '"':
					if i+1 < len(line) && !isSpace(line[i+1]) {
						return nil, ErrUnbalancedQuotes
					}
					done = true
				default:
					cur = append(cur, line[i])
				}
			case inSingle:
				switch {
				case i >= len(line):
					return nil, ErrUnbalancedQuotes
				case line[i] == '\\' && i+1 < len(line) && line[i+1] == '\'':
					i++
					cur = append(cur, '\'')
				case line[i] == '\'':
					if i+1 < len(line) && !isSpace(line[i+1]) {
						return nil, ErrUnbalancedQuotes
					}
					done = true
				default:
					cur = append(cur, line[i])
				}
			default:
				switch {
				case i >= len(line):
					done = true
				case isSpace(line[i]):
					done = true
				case line[i] == '"':
					inDouble = true
				case line[i] == '\'':
					inSingle = true
				default:
					cur = append(cur, line[i])
				}
			}
			if i < len(line) {
				i++
			}
		}
		out = append(out, string(cur))
	}
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unescape(c byte) byte {
	switch c {
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	case 'b':
		return '\b'
	case 'a':
		return '\a'
	}
	return c
}

// Quote returns v as one argument of a configuration line: as it is when
// it needs no quotes, else in double quotes with escapes.
func Quote(v string) string {
	if v != "" && !strings.ContainsAny(v, " \t\r\n\v\f\"'\\") && isPrintable(v) {
		return v
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '\\', '"':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if c < 0x20 || c >= 0x7f {
				fmt.Fprintf(&b, `\x%02x`, c)
			} else {
				b.WriteByte(c)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

func isPrintable(v string) bool {
	for i := 0; i < len(v); i++ {
		if v[i] < 0x21 || v[i] >= 0x7f {
			return false
		}
	}
	return true
}

// Setting is an option's value to write back, in the form a file line
// gives it: the arguments separated by single spaces.
type Setting struct {
	Name  string
	Value string
	// Default is the value the option has when no line sets it.
	Default string
	// Multi says the value is several arguments separated by spaces (each
	// quoted on its own), not one argument.
	Multi bool
}

// rewriteMarker precedes lines Rewrite appends, as Redis marks them.
const rewriteMarker = "# Generated by CONFIG REWRITE"

// Rewrite writes settings into the file at path, keeping everything else
// as it is. A setting whose value equals what the file (with its
// includes) already says, or, when no line sets it, its default, is left
// alone; otherwise the first line of the main file that sets it is
// replaced (and any later ones removed) or, when the main file has none,
// a line is appended after a "# Generated by CONFIG REWRITE" comment. The
// file is replaced atomically (a temporary file, synced, renamed) with its
// permissions kept.
func Rewrite(path string, settings []Setting) error {
	dirs, err := Parse(path)
	if err != nil {
		return err
	}
	effective := map[string]string{}
	for _, d := range dirs {
		effective[d.Name] = d.Value()
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read config file: %w", err)
	}
	lines := strings.Split(string(data), "\n")
	trailingNewline := len(lines) > 0 && lines[len(lines)-1] == ""
	if trailingNewline {
		lines = lines[:len(lines)-1]
	}
	changed := false
	var appended []string
	for _, s := range settings {
		name := strings.ToLower(s.Name)
		if cur, ok := effective[name]; ok && cur == s.Value || !ok && s.Value == s.Default {
			continue
		}
		line := name + " " + formatValue(s)
		replaced := false
		for i := 0; i < len(lines); i++ {
			d, ok, err := parseLine(lines[i])
			if err != nil || !ok || d.Name != name {
				continue
			}
			if !replaced {
				lines[i], replaced = line, true
				continue
			}
			lines = append(lines[:i], lines[i+1:]...)
			i--
		}
		if !replaced {
			appended = append(appended, line)
		}
		changed = true
	}
	if !changed {
		return nil
	}
	if len(appended) > 0 {
		if !containsLine(lines, rewriteMarker) {
			lines = append(lines, rewriteMarker)
		}
		lines = append(lines, appended...)
	}
	return writeAtomically(path, []byte(strings.Join(lines, "\n")+"\n"))
}

func formatValue(s Setting) string {
	if !s.Multi {
		return Quote(s.Value)
	}
	parts := strings.Fields(s.Value)
	if len(parts) == 0 {
		return `""`
	}
	for i, p := range parts {
		parts[i] = Quote(p)
	}
	return strings.Join(parts, " ")
}

func containsLine(lines []string, want string) bool {
	for _, l := range lines {
		if strings.TrimSpace(l) == want {
			return true
		}
	}
	return false
}

// writeAtomically replaces path's content: a temporary file beside it,
// synced, then renamed over it, and the directory synced.
func writeAtomically(path string, data []byte) error {
	mode := os.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".rewrite-*")
	if err != nil {
		return fmt.Errorf("rewrite config file: %w", err)
	}
	fail := func(err error) error {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("rewrite config file: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fail(err)
	}
	if err := tmp.Chmod(mode); err != nil {
		return fail(err)
	}
	if err := tmp.Sync(); err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("rewrite config file: %w", err)
	}
	if dir, err := os.Open(filepath.Dir(path)); err == nil {
		_ = dir.Sync()
		dir.Close()
	}
	return nil
}
