//! The unified diff `hosts add|remove --dry-run` prints.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Op {
    Equal,
    Delete,
    Insert,
}

/// One edit step; `a`/`b` are the positions in the old/new line lists where
/// the step happens (for an insertion `a` is the line it goes before).
#[derive(Debug, Clone, Copy)]
pub(super) struct Step {
    pub(super) op: Op,
    pub(super) a: usize,
    pub(super) b: usize,
}

/// Myers' O((N+M)·D) diff. Hosts files can be large (ad-blocking lists have
/// 100k+ lines) while our edits are a few lines, so a quadratic LCS table is
/// not an option. Only the diagonals reachable at each cost are kept, which
/// bounds memory by O(D²).
pub(super) fn myers(a: &[&str], b: &[&str]) -> Vec<Step> {
    let (n, m) = (a.len() as isize, b.len() as isize);
    let max = (n + m) as usize;
    let offset = max as isize + 1;
    let mut v = vec![0isize; 2 * max + 3];
    let mut trace: Vec<Vec<isize>> = Vec::new();
    let idx = |k: isize| (k + offset) as usize;

    let mut found = None;
    'outer: for d in 0..=max as isize {
        trace.push(v[idx(-d - 1)..=idx(d + 1)].to_vec());
        let mut k = -d;
        while k <= d {
            let mut x =
                if k == -d || (k != d && v[idx(k - 1)] < v[idx(k + 1)]) { v[idx(k + 1)] } else { v[idx(k - 1)] + 1 };
            let mut y = x - k;
            while x < n && y < m && a[x as usize] == b[y as usize] {
                x += 1;
                y += 1;
            }
            v[idx(k)] = x;
            if x >= n && y >= m {
                found = Some(d);
                break 'outer;
            }
            k += 2;
        }
    }

    let mut steps = Vec::new();
    let (mut x, mut y) = (n, m);
    for d in (0..=found.unwrap_or(0)).rev() {
        let snap = &trace[d as usize];
        let at = |k: isize| snap[(k + d + 1) as usize];
        let k = x - y;
        let prev_k = if k == -d || (k != d && at(k - 1) < at(k + 1)) { k + 1 } else { k - 1 };
        let prev_x = at(prev_k);
        let prev_y = prev_x - prev_k;
        while x > prev_x && y > prev_y {
            x -= 1;
            y -= 1;
            steps.push(Step { op: Op::Equal, a: x as usize, b: y as usize });
        }
        if d > 0 {
            let op = if x == prev_x { Op::Insert } else { Op::Delete };
            steps.push(Step { op, a: prev_x as usize, b: prev_y as usize });
        }
        x = prev_x;
        y = prev_y;
    }
    steps.reverse();
    steps
}

pub(super) fn diff_steps(a: &[&str], b: &[&str]) -> Vec<Step> {
    // Trimming the common ends first keeps Myers' work proportional to the
    // changed region.
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..].iter().rev().zip(b[prefix..].iter().rev()).take_while(|(x, y)| x == y).count();
    let mut steps: Vec<Step> = (0..prefix).map(|i| Step { op: Op::Equal, a: i, b: i }).collect();
    let (a_mid, b_mid) = (&a[prefix..a.len() - suffix], &b[prefix..b.len() - suffix]);
    steps.extend(myers(a_mid, b_mid).into_iter().map(|s| Step { op: s.op, a: s.a + prefix, b: s.b + prefix }));
    steps.extend((0..suffix).map(|i| Step { op: Op::Equal, a: a.len() - suffix + i, b: b.len() - suffix + i }));
    steps
}

pub(super) const CONTEXT: usize = 3;

pub(super) fn hunk_range(start: usize, count: usize) -> String {
    // An empty range names the line *before* it, hence no +1 then.
    let first = if count == 0 { start } else { start + 1 };
    if count == 1 {
        format!("{first}")
    } else {
        format!("{first},{count}")
    }
}

pub(super) fn push_diff_line(out: &mut String, prefix: char, line: &str) {
    out.push(prefix);
    match line.strip_suffix('\n') {
        Some(body) => {
            out.push_str(body);
            out.push('\n');
        }
        None => {
            out.push_str(line);
            out.push_str("\n\\ No newline at end of file\n");
        }
    }
}

/// A unified diff (3 lines of context) in the format `patch` and `git apply`
/// accept. Line terminators are compared exactly, so a change of line ending
/// or of the final newline is visible; `\r` is kept in the output as-is.
pub fn unified_diff(path_label: &str, before: &str, after: &str) -> String {
    if before == after {
        return String::new();
    }
    let a: Vec<&str> = before.split_inclusive('\n').collect();
    let b: Vec<&str> = after.split_inclusive('\n').collect();
    let steps = diff_steps(&a, &b);

    let mut out = format!("--- {path_label}\t(current)\n+++ {path_label}\t(proposed)\n");
    let changes: Vec<usize> = (0..steps.len()).filter(|&i| steps[i].op != Op::Equal).collect();
    let mut i = 0;
    while i < changes.len() {
        // Extend the hunk while the next change is close enough that the
        // context of both would touch.
        let mut j = i;
        while j + 1 < changes.len() && changes[j + 1] - changes[j] <= 2 * CONTEXT + 1 {
            j += 1;
        }
        let lo = changes[i].saturating_sub(CONTEXT);
        let hi = (changes[j] + CONTEXT).min(steps.len() - 1);
        let hunk = &steps[lo..=hi];
        let old_count = hunk.iter().filter(|s| s.op != Op::Insert).count();
        let new_count = hunk.iter().filter(|s| s.op != Op::Delete).count();
        out.push_str(&format!("@@ -{} +{} @@\n", hunk_range(hunk[0].a, old_count), hunk_range(hunk[0].b, new_count)));
        for s in hunk {
            match s.op {
                Op::Equal => push_diff_line(&mut out, ' ', a[s.a]),
                Op::Delete => push_diff_line(&mut out, '-', a[s.a]),
                Op::Insert => push_diff_line(&mut out, '+', b[s.b]),
            }
        }
        i = j + 1;
    }
    out
}
