package server

import (
	"cmp"
	"slices"

	"github.com/tidwall/redcon"

	"github.com/raftcache/raftcache/resp"
	"github.com/raftcache/raftcache/store"
)

// COMMAND and its subcommands: the command table as Redis 7.2 reports it.

func init() {
	serverHandlers["command"] = cmdCommand
}

func cmdCommand(_ *Server, _ redcon.Conn, _ *client, _, sub *resp.Command, a [][]byte) resp.Reply {
	if sub == nil {
		return commandInfos(sortedCommands())
	}
	switch sub.Name {
	case "count":
		return resp.Int(int64(len(resp.Commands())))
	case "list":
		return commandList(a[2:])
	case "info":
		if len(a) == 2 {
			return commandInfos(sortedCommands())
		}
		out := make([]resp.Reply, 0, len(a)-2)
		for _, name := range a[2:] {
			if c := lookupFull(name); c != nil {
				out = append(out, c.InfoReply())
			} else {
				out = append(out, resp.Null)
			}
		}
		return resp.Array(out...)
	case "docs":
		var cmds []*resp.Command
		if len(a) == 2 {
			cmds = sortedCommands()
		} else {
			for _, name := range a[2:] {
				if c := lookupFull(name); c != nil {
					cmds = append(cmds, c)
				}
			}
		}
		out := make([]resp.Reply, 0, 2*len(cmds))
		for _, c := range cmds {
			out = append(out, resp.BulkString(c.FullName), c.DocsReply())
		}
		return resp.Map(out...)
	case "getkeys", "getkeysandflags":
		return commandGetKeys(a[2:], sub.Name == "getkeysandflags")
	case "help":
		return helpReply(commandHelp)
	}
	return resp.ErrUnknownSubcommand(a[0], a[1]).Reply()
}

func commandInfos(cmds []*resp.Command) resp.Reply {
	out := make([]resp.Reply, len(cmds))
	for i, c := range cmds {
		out[i] = c.InfoReply()
	}
	return resp.Array(out...)
}

// commandList implements COMMAND LIST [FILTERBY MODULE m | ACLCAT c |
// PATTERN p]: every command and subcommand by full name. raftcache has
// no modules.
func commandList(args [][]byte) resp.Reply {
	keep := func(*resp.Command) bool { return true }
	switch {
	case len(args) == 0:
	case len(args) == 3 && resp.EqualFold(args[0], "filterby"):
		arg := args[2]
		switch {
		case resp.EqualFold(args[1], "module"):
			return resp.EmptyArr
		case resp.EqualFold(args[1], "aclcat"):
			keep = func(c *resp.Command) bool {
				return slices.ContainsFunc(c.ACL, func(cat string) bool { return resp.EqualFold(arg, cat) })
			}
		case resp.EqualFold(args[1], "pattern"):
			g := store.CompileGlob(arg, true)
			keep = func(c *resp.Command) bool { return g.Match(c.FullName) }
		default:
			return resp.ErrSyntax.Reply()
		}
	default:
		return resp.ErrSyntax.Reply()
	}
	var out []resp.Reply
	for _, c := range sortedCommands() {
		if keep(c) {
			out = append(out, resp.BulkString(c.FullName))
		}
		for _, sc := range sortedSubcommands(c) {
			if keep(sc) {
				out = append(out, resp.BulkString(sc.FullName))
			}
		}
	}
	return resp.Array(out...)
}

// commandGetKeys implements COMMAND GETKEYS and GETKEYSANDFLAGS for the
// command line args, with Redis's order of checks: the command (and
// subcommand) exists, has keys, and has a valid number of arguments.
func commandGetKeys(args [][]byte, withFlags bool) resp.Reply {
	cmd := resp.Lookup(args[0])
	if cmd != nil && cmd.Subcommands != nil && len(args) > 1 {
		cmd = cmd.LookupSub(args[1])
	}
	switch {
	case cmd == nil:
		return resp.ErrInvalidCommand.Reply()
	case len(cmd.KeySpecs) == 0:
		return resp.ErrNoKeyArgs.Reply()
	case !cmd.CheckArity(len(args)):
		return resp.ErrInvalidNumArgs.Reply()
	}
	var out []resp.Reply
	for _, spec := range cmd.KeySpecs {
		flags := keyFlags(cmd, spec, args)
		for _, p := range specPositions(spec, len(args)) {
			if !withFlags {
				out = append(out, resp.Bulk(args[p]))
				continue
			}
			names := flags.Names()
			fl := make([]resp.Reply, len(names))
			for i, n := range names {
				fl[i] = resp.Simple(n)
			}
			out = append(out, resp.Array(resp.Bulk(args[p]), resp.Set(fl...)))
		}
	}
	if len(out) == 0 {
		return resp.ErrInvalidCommandArgs.Reply()
	}
	return resp.Array(out...)
}

// specPositions returns the argument indexes of the keys one key spec
// finds in a command line of argc arguments.
func specPositions(spec resp.KeySpec, argc int) []int {
	first := spec.Index
	last := first + spec.LastKey
	if spec.LastKey < 0 {
		last = argc + spec.LastKey
	}
	last = min(last, argc-1)
	step := max(spec.Step, 1)
	var out []int
	for i := first; i <= last; i += step {
		out = append(out, i)
	}
	return out
}

// keyFlags returns the flags of the keys a spec finds in this command
// line. A spec with variable flags is resolved as Redis resolves it: SET
// reads its key only with the GET option.
func keyFlags(cmd *resp.Command, spec resp.KeySpec, args [][]byte) resp.KeyFlag {
	f := spec.Flags
	if f&resp.KeyVariableFlags == 0 {
		return f
	}
	f &^= resp.KeyVariableFlags
	if cmd.Name == "set" && !slices.ContainsFunc(args[3:], func(a []byte) bool { return resp.EqualFold(a, "get") }) {
		f = resp.KeyOW | resp.KeyUpdate
	}
	return f
}

// lookupFull finds "name" or "container|sub".
func lookupFull(name []byte) *resp.Command {
	for i, ch := range name {
		if ch == '|' {
			c := resp.Lookup(name[:i])
			if c == nil {
				return nil
			}
			return c.LookupSub(name[i+1:])
		}
	}
	return resp.Lookup(name)
}

func sortedCommands() []*resp.Command {
	cmds := resp.Commands()
	slices.SortFunc(cmds, func(a, b *resp.Command) int { return cmp.Compare(a.Name, b.Name) })
	return cmds
}

func sortedSubcommands(c *resp.Command) []*resp.Command {
	out := make([]*resp.Command, 0, len(c.Subcommands))
	for _, sc := range c.Subcommands {
		out = append(out, sc)
	}
	slices.SortFunc(out, func(a, b *resp.Command) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

var commandHelp = []string{
	"COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
	"(no subcommand)",
	"    Return details about all Redis commands.",
	"COUNT",
	"    Return the total number of commands in this Redis server.",
	"LIST",
	"    Return a list of all commands in this Redis server.",
	"INFO [<command-name> ...]",
	"    Return details about multiple Redis commands.",
	"    If no command names are given, documentation details for all",
	"    commands are returned.",
	"DOCS [<command-name> ...]",
	"    Return documentation details about multiple Redis commands.",
	"    If no command names are given, documentation details for all",
	"    commands are returned.",
	"GETKEYS <full-command>",
	"    Return the keys from a full Redis command.",
	"GETKEYSANDFLAGS <full-command>",
	"    Return the keys and the access flags from a full Redis command.",
	"HELP",
	"    Prints this help.",
}
