package resp

import (
	"sort"
)

// InfoReply returns the command's entry in COMMAND INFO, shaped as Redis
// 7.2 shapes it: an array of name, arity, flags (a set of status strings),
// first key, last key, step, ACL categories (a set of "@category" status
// strings), tips (a set of bulk strings), key specs (a set of maps) and
// subcommands (an array of their own entries, or an empty set). Redis lists
// subcommands in hash order; raftcache sorts them by name.
func (c *Command) InfoReply() Reply {
	acl := make([]string, len(c.ACL))
	for i, cat := range c.ACL {
		acl[i] = "@" + cat
	}
	subs := Set()
	if c.Subcommands != nil {
		elems := make([]Reply, 0, len(c.Subcommands))
		for _, sub := range c.sortedSubcommands() {
			elems = append(elems, sub.InfoReply())
		}
		subs = Array(elems...)
	}
	specs := make([]Reply, len(c.KeySpecs))
	for i := range c.KeySpecs {
		specs[i] = c.KeySpecs[i].reply()
	}
	return Array(
		BulkString(c.FullName),
		Int(int64(c.Arity)),
		statusSet(c.Flags.Names()),
		Int(int64(c.FirstKey)),
		Int(int64(c.LastKey)),
		Int(int64(c.Step)),
		statusSet(acl),
		bulkSet(c.Tips),
		Set(specs...),
		subs,
	)
}

// reply is the key spec as COMMAND INFO shows it.
func (k *KeySpec) reply() Reply {
	var kv []Reply
	if k.Notes != "" {
		kv = append(kv, BulkString("notes"), BulkString(k.Notes))
	}
	return Map(append(kv,
		BulkString("flags"), statusSet(k.Flags.Names()),
		BulkString("begin_search"), Map(
			BulkString("type"), BulkString("index"),
			BulkString("spec"), Map(BulkString("index"), Int(int64(k.Index))),
		),
		BulkString("find_keys"), Map(
			BulkString("type"), BulkString("range"),
			BulkString("spec"), Map(
				BulkString("lastkey"), Int(int64(k.LastKey)),
				BulkString("keystep"), Int(int64(k.Step)),
				BulkString("limit"), Int(int64(k.Limit)),
			),
		),
	)...)
}

// DocsReply returns the command's documentation map for COMMAND DOCS, which
// the caller pairs with the command's name: summary, since, group, then
// doc_flags, deprecated_since and replaced_by when set, and for a container
// a subcommands map from full name to each subcommand's documentation.
// raftcache does not report complexity, history or arguments.
func (c *Command) DocsReply() Reply {
	kv := []Reply{
		BulkString("summary"), BulkString(c.Summary),
		BulkString("since"), BulkString(c.Since),
		BulkString("group"), BulkString(c.Group),
	}
	if len(c.DocFlags) > 0 {
		kv = append(kv, BulkString("doc_flags"), statusSet(c.DocFlags))
	}
	if c.DeprecatedSince != "" {
		kv = append(kv, BulkString("deprecated_since"), BulkString(c.DeprecatedSince))
	}
	if c.ReplacedBy != "" {
		kv = append(kv, BulkString("replaced_by"), BulkString(c.ReplacedBy))
	}
	if c.Subcommands != nil {
		subs := make([]Reply, 0, 2*len(c.Subcommands))
		for _, sub := range c.sortedSubcommands() {
			subs = append(subs, BulkString(sub.FullName), sub.DocsReply())
		}
		kv = append(kv, BulkString("subcommands"), Map(subs...))
	}
	return Map(kv...)
}

func (c *Command) sortedSubcommands() []*Command {
	out := make([]*Command, 0, len(c.Subcommands))
	for _, sub := range c.Subcommands {
		out = append(out, sub)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func statusSet(items []string) Reply {
	elems := make([]Reply, len(items))
	for i, s := range items {
		elems[i] = Simple(s)
	}
	return Set(elems...)
}

func bulkSet(items []string) Reply {
	elems := make([]Reply, len(items))
	for i, s := range items {
		elems[i] = BulkString(s)
	}
	return Set(elems...)
}
