//! Trust trees in a page: one [`TrustView`] as nested lists (the terminal tree's content, with
//! marks), and a before/after pair around a step with the roles it changed marked.

use std::collections::BTreeMap;

use maud::{html, Markup};

use super::{Text, Tone};
use crate::trust::tree::paths_text;
use crate::trust::view::{changes, short_digest, short_id, RoleView, TrustView};

/// One look at a repository, or why there is none.
pub struct Shot<'a> {
    pub view: Option<&'a TrustView>,
    pub note: Option<&'a str>,
}

/// The tree of `view`; roles named in `changed` carry a diamond and what changed.
pub fn tree(view: &TrustView, changed: &BTreeMap<String, String>, t: &Text<'_>) -> Markup {
    html! {
        p class="dim" {
            (view.source.label())
            @if let Some(other) = &view.compared_with { ", compared with " (other.label()) }
            @if let Some(note) = &view.compare_note { " (" (t.t(note)) ")" }
        }
        ul class="tree" {
            @for role in view.roles.iter().filter(|r| r.parent.is_none()) {
                (role_item(view, role, changed, t))
            }
        }
        @if !view.checks.is_empty() {
            ul class="checks" {
                @for c in &view.checks {
                    li { (if c.ok { Tone::Good.mark("ok") } else { Tone::Bad.mark("refused") }) " " (c.who) " " (c.verb()) ": " (t.t(&c.message)) }
                }
            }
        }
    }
}

fn role_item(view: &TrustView, role: &RoleView, changed: &BTreeMap<String, String>, t: &Text<'_>) -> Markup {
    let change = changed.get(&role.name);
    let children: Vec<&RoleView> = view.roles.iter().filter(|r| r.parent.as_deref() == Some(&role.name)).collect();
    let foreign = role.foreign_signatures();
    html! {
        li class={ "role" @if change.is_some() { " changed" } @if !role.delegated { " undelegated" } } data-role=(role.name) {
            div class="role-head" {
                span class="name" { (role.name) } " "
                span class="meta" { (t.t(&role.headline())) }
                @if let Some(what) = change { " " (Tone::Changed.mark(&format!("changed: {what}"))) }
                @if role.expired { " " (Tone::Bad.mark("expired")) }
                @if let (Some(c), Some(other)) = (&role.compare, &view.compared_with) {
                    @if c.differs() { " " (Tone::Warn.mark(&c.text(&view.source, other))) }
                    @else { " " span class="dim" { "(" (c.text(&view.source, other)) ")" } }
                }
            }
            ul {
                @for w in role.warnings().iter().filter(|w| !w.starts_with("expired")) {
                    li { (Tone::Warn.mark(w)) }
                }
                @if let Some(paths) = &role.paths { li { "paths: " (paths_text(paths)) } }
                @for k in &role.keys {
                    li class="key" {
                        "key " code title=(k.id) { (short_id(&k.id)) } " (" (k.keytype) ") "
                        @if k.held_by.is_empty() { span class="dim" { "held nowhere in this sandbox" } }
                        @else { "held by " (k.held_by.iter().map(|h| h.label()).collect::<Vec<_>>().join(", ")) }
                    }
                }
                @if !foreign.is_empty() {
                    li {
                        "also signed by "
                        @for (i, id) in foreign.iter().enumerate() { @if i > 0 { ", " } code title=(id) { (short_id(id)) } }
                        @if role.name == crate::tuf::ROOT { " (the replaced root's key: a rotated root is signed by both)" }
                        @else { " (a key the role no longer lists)" }
                    }
                }
                @for tag in &role.tags {
                    li class="tag" data-tag=(tag.name) {
                        "tag " strong { (t.t(&tag.name)) } " → "
                        @match &tag.digest {
                            Some(d) => code title=(d) { (short_digest(d)) },
                            None => span class="dim" { "no sha256" },
                        }
                        span class="dim" { " (" (tag.length) " B)" }
                    }
                }
                @for child in children { (role_item(view, child, changed, t)) }
            }
        }
    }
}

/// Before and after a step, side by side; the after tree marks what the step changed.
pub fn pair(repository: &str, before: Shot<'_>, after: Shot<'_>, t: &Text<'_>) -> Markup {
    let changed = match (before.view, after.view) {
        (Some(b), Some(a)) => changes(b, a),
        (None, Some(a)) => a.roles.iter().map(|r| (r.name.clone(), "new".to_string())).collect(),
        _ => BTreeMap::new(),
    };
    let none = BTreeMap::new();
    html! {
        div class="trust-pair" data-trust=(repository) {
            div {
                h4 { "Trust data before: " code { (t.t(repository)) } }
                (shot(&before, &none, t))
            }
            div {
                h4 { "after" @if !changed.is_empty() { " " (Tone::Changed.mark(&format!("{} role(s) changed", changed.len()))) } }
                (shot(&after, &changed, t))
            }
        }
    }
}

fn shot(s: &Shot<'_>, changed: &BTreeMap<String, String>, t: &Text<'_>) -> Markup {
    html! {
        @match (s.view, s.note) {
            (Some(v), _) => (tree(v, changed, t)),
            (None, Some(note)) => p class="dim" { (t.t(note)) },
            (None, None) => p class="dim" { "not looked at" },
        }
    }
}

/// One tree on its own, titled (the migrate page: where each signed digest comes from).
pub fn single(view: &TrustView, t: &Text<'_>) -> Markup {
    html! {
        div class="trust-one" data-trust=(view.repository) {
            h4 { "Trust data of " code { (t.t(&view.repository)) } }
            (tree(view, &BTreeMap::new(), t))
        }
    }
}
