package acl

import (
	"crypto/rand"
	"encoding/hex"
	"slices"

	"github.com/raftcache/raftcache/resp"
)

// Categories returns Redis 7.2's ACL categories in its order (ACL CAT).
func Categories() []string { return slices.Clone(categories) }

// Cat returns the full names of the commands and subcommands raftcache
// serves in a category, named without '@' and ignoring case (ACL CAT
// category), sorted. Redis lists them in its hash table's order, which
// no client relies on. An unknown category is ErrUnknownCategory.
func Cat(category []byte) ([]string, error) {
	bit := categoryBit(string(category))
	if bit == 0 {
		return nil, ErrUnknownCategory(category)
	}
	t := commandTable()
	var out []string
	for id, c := range t.cmds {
		if t.cats[id]&bit != 0 {
			out = append(out, c.FullName)
		}
	}
	slices.Sort(out)
	return out, nil
}

// CatReply answers ACL CAT: with no argument the categories, with one
// the commands of that category, or the error.
func CatReply(args [][]byte) resp.Reply {
	if len(args) == 0 {
		out := make([]resp.Reply, len(categories))
		for i, c := range categories {
			out[i] = resp.BulkString(c)
		}
		return resp.Array(out...)
	}
	names, err := Cat(args[0])
	if err != nil {
		return err.(*resp.Error).Reply()
	}
	out := make([]resp.Reply, len(names))
	for i, n := range names {
		out[i] = resp.BulkString(n)
	}
	return resp.Array(out...)
}

// MaxGenPassBits is the most ACL GENPASS generates.
const MaxGenPassBits = 4096

// GenPass returns bits random bits as lower-case hex, rounded up to whole
// hex digits, as ACL GENPASS [bits] does (the default is 256). bits out
// of 1..4096 is ErrGenPassBits. It reads crypto/rand, so it runs on the
// node that answers, never in a replicated operation.
func GenPass(bits int) (string, error) {
	if bits <= 0 || bits > MaxGenPassBits {
		return "", ErrGenPassBits
	}
	chars := (bits + 3) / 4
	buf := make([]byte, (chars+1)/2)
	if _, err := rand.Read(buf); err != nil {
		return "", err
	}
	return hex.EncodeToString(buf)[:chars], nil
}

// Help is ACL HELP's text as Redis 7.2 gives it, before the lines every
// HELP reply ends with.
var Help = []string{
	"CAT [<category>]",
	"    List all commands that belong to <category>, or all command categories",
	"    when no category is specified.",
	"DELUSER <username> [<username> ...]",
	"    Delete a list of users.",
	"DRYRUN <username> <command> [<arg> ...]",
	"    Returns whether the user can execute the given command without executing the command.",
	"GETUSER <username>",
	"    Get the user's details.",
	"GENPASS [<bits>]",
	"    Generate a secure 256-bit user password. The optional `bits` argument can",
	"    be used to specify a different size.",
	"LIST",
	"    Show users details in config file format.",
	"LOAD",
	"    Reload users from the ACL file.",
	"LOG [<count> | RESET]",
	"    Show the ACL log entries.",
	"SAVE",
	"    Save the current config to the ACL file.",
	"SETUSER <username> <attribute> [<attribute> ...]",
	"    Create or modify a user with the specified attributes.",
	"USERS",
	"    List all the registered usernames.",
	"WHOAMI",
	"    Return the current connection username.",
}
