package acl

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/raftcache/raftcache/resp"
)

// LoadError is a refused aclfile: Redis's one-line description of every
// problem found, ending in its warning that nothing was changed.
type LoadError struct{ Text string }

func (e *LoadError) Error() string { return e.Text }

// Err returns the error reply ACL LOAD sends for e.
func (e *LoadError) Err() *resp.Error { return resp.NewError("ERR " + e.Text) }

// Save returns every user in the aclfile format, one "user <name> <rules>"
// line per user sorted by name, each ending in "\n", as ACL SAVE writes
// the file. The encoding is deterministic: equal sets give equal bytes.
func (us *Users) Save() []byte {
	var b bytes.Buffer
	for _, line := range us.List() {
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// SaveFile writes Save's bytes to path as Redis's ACL SAVE does: a
// temporary file beside it, synced, renamed over path, the directory
// synced. On error the server answers ErrSaveFailed and logs the error.
func (us *Users) SaveFile(path string) error {
	data := us.Save()
	tmp := fmt.Sprintf("%s.tmp-%d", path, os.Getpid())
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		err = d.Sync()
		_ = d.Close()
		return err
	}
	return nil
}

// LoadFile reads the aclfile at path and replaces every user with its
// users, as ACL LOAD does; see Load. A file that cannot be read is
// Redis's "Error loading ACLs, opening file ..." LoadError.
func (us *Users) LoadFile(path string) error {
	data, err := ReadFile(path)
	if err != nil {
		return err
	}
	return us.Load(path, data)
}

// ReadFile reads the aclfile at path for ACL LOAD; a file that cannot be
// read is Redis's "Error loading ACLs, opening file ..." LoadError.
func ReadFile(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &LoadError{Text: "Error loading ACLs, opening file '" + path + "': " + strerror(err)}
	}
	return data, nil
}

// strerror words an I/O error as C's strerror does ("No such file or
// directory"): Go's errno texts are the same with a lower-case start.
func strerror(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		s := errno.Error()
		if s != "" && s[0] >= 'a' && s[0] <= 'z' {
			s = string(s[0]-'a'+'A') + s[1:]
		}
		return s
	}
	return err.Error()
}

// Load replaces every user with those of data, an aclfile named filename
// (for the error texts), as Redis's ACLLoadFromFile does: each non-blank
// line is "user <name> <rules...>" split on single spaces; all lines are
// checked and, if any is wrong, nothing changes and the error lists every
// problem in Redis's words. Without a default user in the file the
// default user is created as Redis starts it. Deterministic: every node
// that loads the same bytes gets the same set.
func (us *Users) Load(filename string, data []byte) error {
	users, err := parseACLFile(filename, data)
	if err != nil {
		return err
	}
	us.mu.Lock()
	defer us.mu.Unlock()
	us.install(users, us.snap().version)
	return nil
}

func parseACLFile(filename string, data []byte) (map[string]*User, error) {
	users := map[string]*User{}
	var errs bytes.Buffer
	for i, line := range bytes.Split(data, []byte("\n")) {
		n := strconv.Itoa(i + 1)
		line = bytes.Trim(line, " \t\r\n")
		if len(line) == 0 {
			continue
		}
		argv := bytes.Split(line, []byte(" "))
		if string(argv[0]) != "user" || len(argv) < 2 {
			errs.WriteString(filename + ":" + n + " should start with user keyword followed by the username. ")
			continue
		}
		name := string(argv[1])
		if hasSpace(argv[1]) {
			errs.WriteString("'" + filename + ":" + n + ": username '" + string(cString(argv[1])) + "' contains invalid characters. ")
			continue
		}
		if _, dup := users[name]; dup {
			errs.WriteString("WARNING: Duplicate user '" + string(cString(argv[1])) + "' found on line " + n + ". ")
			continue
		}
		u := newUser(name)
		users[name] = u
		rules, err := mergeSelectors(argv[2:])
		if err != nil {
			errs.WriteString(filename + ":" + n + ": Unmatched parenthesis in selector definition.")
			continue
		}
		syntax := false
		for _, r := range rules {
			r = bytes.Trim(r, "\t\r\n")
			reason, unknown := u.apply(r)
			switch {
			case reason == "":
			case unknown:
				errs.WriteString(filename + ":" + n + ": Error in applying operation '" + string(cString(r)) + "': " + reason + ". ")
			case !syntax:
				errs.WriteString(filename + ":" + n + ": " + reason + ". ")
				syntax = true
			}
		}
	}
	if errs.Len() > 0 {
		errs.WriteString("WARNING: ACL errors detected, no change to the previously active ACL rules was performed")
		return nil, &LoadError{Text: errs.String()}
	}
	if users[DefaultUser] == nil {
		users[DefaultUser] = newDefaultUser()
	}
	return users, nil
}
