package config

import "go.yaml.in/yaml/v3"

// pair is one key and value of a mapping.
type pair struct {
	k, v *yaml.Node
	// merged marks a pair brought in by a merge key ("<<: *defaults"); an
	// explicit key of the same name wins over it.
	merged bool
}

// maxMergeDepth bounds merge keys inside merged mappings.
const maxMergeDepth = 16

// pairs lists the entries of mapping n: its explicit keys first, then the
// keys of the mappings it merges ("<<: *anchor" or "<<: [*a, *b]"), earlier
// merges first. Decoding takes the first of each name, which gives YAML's
// merge semantics: explicit keys override merged ones.
func (d *decoder) pairs(n *yaml.Node, depth int) []pair {
	ps := make([]pair, 0, len(n.Content)/2)
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merges = append(merges, v)
			continue
		}
		ps = append(ps, pair{k: k, v: v})
	}
	for _, m := range merges {
		ps = d.appendMerged(ps, m, depth)
	}
	return ps
}

// appendMerged appends the pairs of the merge value m to ps.
func (d *decoder) appendMerged(ps []pair, m *yaml.Node, depth int) []pair {
	if depth >= maxMergeDepth {
		d.stop(m, "merge keys nested too deeply (over %d levels)", maxMergeDepth)
	}
	if d.stopped {
		return ps
	}
	sources := []*yaml.Node{m}
	if r := resolve(m); r.Kind == yaml.SequenceNode {
		sources = r.Content
	}
	for _, src := range sources {
		r := resolve(src)
		if r.Kind != yaml.MappingNode {
			d.errorf(src, "a merge key (<<) takes a mapping or a list of mappings, got %s", kindOf(r))
			continue
		}
		for _, p := range d.pairs(r, depth+1) {
			// Merged pairs count against the value budget even when a
			// later key overrides them: a chain of merges can otherwise
			// grow the pair lists exponentially.
			if !d.count(src) {
				return ps
			}
			p.merged = true
			ps = append(ps, p)
		}
	}
	return ps
}
