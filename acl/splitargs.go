package acl

import "github.com/raftcache/raftcache/config"

// splitArgs splits a line as Redis's sdssplitargs does (config.SplitArgs:
// double quotes with C escapes, single quotes with \' only, a closing
// quote that must be followed by a space or the end). It returns nil for
// unbalanced quotes (and for a blank line), as sdssplitargs returns no
// arguments.
func splitArgs(line []byte) [][]byte {
	args, err := config.SplitArgs(string(line))
	if err != nil || len(args) == 0 {
		return nil
	}
	out := make([][]byte, len(args))
	for i, a := range args {
		out[i] = []byte(a)
	}
	return out
}
