//! Comparison of answer structures: tuples and intervals (brackets respected), sets and lists
//! (unordered), unions, matrices, equations, inequalities, text; expressions go to
//! [`Comparer::values`].

use super::ast::{Node, Rel};
use super::compare::{Comparer, Outcome, infinity_sign};
use super::eval::structure_name;
use super::parser::text_key;
use super::verdict::Rule;

/// Most variants a `±` expression may expand to.
const MAX_PM_VARIANTS: usize = 16;

/// Compares two parsed answers.
pub fn compare(c: &Comparer<'_>, a: &Node, b: &Node) -> Outcome {
    let a = canonical(a);
    let b = canonical(b);
    compare_canonical(c, &a, &b)
}

fn compare_canonical(c: &Comparer<'_>, a: &Node, b: &Node) -> Outcome {
    match (a, b) {
        (Node::Text(x), Node::Text(y)) => text(x, y),
        (Node::Text(x), Node::Sym(s)) | (Node::Sym(s), Node::Text(x)) => text(x, &text_key(s)),
        (Node::Text(_), other) | (other, Node::Text(_)) => Outcome::no(
            Rule::Mismatch,
            format!("text against {}", structure_name(other)),
        ),
        (Node::Relation(l1, r1), Node::Relation(l2, r2)) => relations(c, l1, r1, l2, r2),
        (rel @ Node::Relation(..), other) | (other, rel @ Node::Relation(..)) => {
            match strippable(rel) {
                Some(rhs) => {
                    let mut o = compare_canonical(c, rhs, other);
                    o.reason = format!("{} (after dropping the variable on the left)", o.reason);
                    o
                }
                None => Outcome::no(
                    Rule::Mismatch,
                    format!("a relation against {}", structure_name(other)),
                ),
            }
        }
        (Node::Set(x), Node::Set(y)) => sets(c, x, y, Rule::Set),
        (Node::Union(x), Node::Union(y)) => sets(c, x, y, Rule::Interval),
        (Node::Union(x), Node::Set(y)) | (Node::Set(y), Node::Union(x))
            if y.iter().all(is_interval) =>
        {
            sets(c, x, y, Rule::Interval)
        }
        (
            Node::Tuple {
                open: o1,
                close: c1,
                items: x,
            },
            Node::Tuple {
                open: o2,
                close: c2,
                items: y,
            },
        ) => {
            let rule = if (*o1, *c1) != ('(', ')')
                || (*o2, *c2) != ('(', ')')
                || x.iter().chain(y).any(|n| infinity_sign(n).is_some())
            {
                Rule::Interval
            } else {
                Rule::Tuple
            };
            if (o1, c1) != (o2, c2) {
                return Outcome::no(rule, format!("brackets differ: {o1}{c1} against {o2}{c2}"));
            }
            elementwise(c, x, y, rule)
        }
        (Node::Matrix(x), Node::Matrix(y)) => {
            if x.len() != y.len() || x[0].len() != y[0].len() {
                return Outcome::no(
                    Rule::Matrix,
                    format!(
                        "shapes differ: {}x{} against {}x{}",
                        x.len(),
                        x[0].len(),
                        y.len(),
                        y[0].len()
                    ),
                );
            }
            let xs: Vec<Node> = x.iter().flatten().cloned().collect();
            let ys: Vec<Node> = y.iter().flatten().cloned().collect();
            elementwise(c, &xs, &ys, Rule::Matrix)
        }
        (
            Node::Matrix(m),
            Node::Tuple {
                open: '(',
                close: ')',
                items,
            },
        )
        | (
            Node::Tuple {
                open: '(',
                close: ')',
                items,
            },
            Node::Matrix(m),
        ) if m.len() == 1 || m[0].len() == 1 => {
            let xs: Vec<Node> = m.iter().flatten().cloned().collect();
            elementwise(c, &xs, items, Rule::Matrix)
        }
        (x, y) if x.is_expression() && y.is_expression() => c.values(x, y),
        (x, y) => Outcome::no(
            Rule::Mismatch,
            format!("{} against {}", structure_name(x), structure_name(y)),
        ),
    }
}

fn text(x: &str, y: &str) -> Outcome {
    if x == y {
        Outcome::yes(Rule::Text, "same text")
    } else {
        Outcome::no(
            Rule::Text,
            format!("different text: \"{x}\" against \"{y}\""),
        )
    }
}

fn is_interval(n: &Node) -> bool {
    matches!(n, Node::Tuple { items, .. } if items.len() == 2)
}

/// Compares equal-length sequences element by element.
fn elementwise(c: &Comparer<'_>, x: &[Node], y: &[Node], rule: Rule) -> Outcome {
    if x.len() != y.len() {
        return Outcome::no(rule, format!("{} elements against {}", x.len(), y.len()));
    }
    for (k, (p, q)) in x.iter().zip(y).enumerate() {
        let o = compare_canonical(c, p, q);
        if o.rule == Rule::Budget {
            return o;
        }
        if !o.equal {
            return Outcome::no(rule, format!("element {} differs: {}", k + 1, o.reason));
        }
    }
    Outcome::yes(rule, format!("all {} elements equal", x.len()))
}

/// Compares unordered collections: every element of each has an equal one in the other.
fn sets(c: &Comparer<'_>, x: &[Node], y: &[Node], rule: Rule) -> Outcome {
    if x.len().saturating_mul(y.len()) > c.budget.max_set_pairs {
        return Outcome::no(
            Rule::Budget,
            format!(
                "over budget: matching {} against {} elements exceeds {} comparisons",
                x.len(),
                y.len(),
                c.budget.max_set_pairs
            ),
        );
    }
    if x.is_empty() || y.is_empty() {
        return if x.is_empty() && y.is_empty() {
            Outcome::yes(rule, "both empty")
        } else {
            Outcome::no(rule, "an empty collection against a non-empty one")
        };
    }
    let mut memo: Vec<Option<bool>> = vec![None; x.len() * y.len()];
    let mut eq = |i: usize, j: usize| -> Result<bool, Outcome> {
        if let Some(v) = memo[i * y.len() + j] {
            return Ok(v);
        }
        let o = compare_canonical(c, &x[i], &y[j]);
        if o.rule == Rule::Budget {
            return Err(o);
        }
        memo[i * y.len() + j] = Some(o.equal);
        Ok(o.equal)
    };
    let result: Result<Outcome, Outcome> = (|| {
        for i in 0..x.len() {
            let mut found = false;
            for j in 0..y.len() {
                if eq(i, j)? {
                    found = true;
                    break;
                }
            }
            if !found {
                return Ok(Outcome::no(
                    rule,
                    format!("element {} of the first has no equal in the second", i + 1),
                ));
            }
        }
        for j in 0..y.len() {
            let mut found = false;
            for i in 0..x.len() {
                if eq(i, j)? {
                    found = true;
                    break;
                }
            }
            if !found {
                return Ok(Outcome::no(
                    rule,
                    format!("element {} of the second has no equal in the first", j + 1),
                ));
            }
        }
        Ok(Outcome::yes(
            rule,
            format!("{} and {} elements match as sets", x.len(), y.len()),
        ))
    })();
    result.unwrap_or_else(|o| o)
}

/// The right side of `v = rhs` when the left side is a lone variable (or a function head
/// such as `f(x)`) that the right side does not mention.
fn strippable(rel: &Node) -> Option<&Node> {
    let Node::Relation(l, rest) = rel else {
        return None;
    };
    let [(op, rhs)] = rest.as_slice() else {
        return None;
    };
    strips(l, *op, rhs).then_some(rhs)
}

/// Whether `l op rhs` is `v = rhs` with a lone variable or function head `v` not in `rhs`.
fn strips(l: &Node, op: Rel, rhs: &Node) -> bool {
    if !matches!(op, Rel::Eq | Rel::Approx) {
        return false;
    }
    let head = match l {
        Node::Sym(s) => s.clone(),
        Node::Mul(v)
            if (2..=4).contains(&v.len()) && v.iter().all(|n| matches!(n, Node::Sym(_))) =>
        {
            match &v[0] {
                Node::Sym(s) => s.clone(),
                _ => return false,
            }
        }
        _ => return false,
    };
    !rhs.symbols().contains(&head)
}

fn difference(l: &Node, r: &Node) -> Node {
    Node::Add(vec![l.clone(), Node::Neg(Box::new(r.clone()))])
}

fn relations(
    c: &Comparer<'_>,
    l1: &Node,
    r1: &[(Rel, Node)],
    l2: &Node,
    r2: &[(Rel, Node)],
) -> Outcome {
    if r1.len() != r2.len() {
        return Outcome::no(Rule::Mismatch, "relation chains of different lengths");
    }
    let mut left1 = l1;
    let mut left2 = l2;
    let mut last = Outcome::yes(Rule::Equation, "");
    for ((op1, right1), (op2, right2)) in r1.iter().zip(r2) {
        last = link(c, left1, *op1, right1, left2, *op2, right2);
        if !last.equal {
            return last;
        }
        left1 = right1;
        left2 = right2;
    }
    last
}

/// Compares `a op1 b` with `c op2 d`.
fn link(c: &Comparer<'_>, a: &Node, op1: Rel, b: &Node, x: &Node, op2: Rel, y: &Node) -> Outcome {
    let eq = |r: Rel| matches!(r, Rel::Eq | Rel::Approx);
    if eq(op1) && eq(op2) {
        if strips(a, op1, b) && strips(x, op2, y) && a == x {
            let o = compare_canonical(c, b, y);
            if o.equal || o.rule == Rule::Budget {
                return Outcome {
                    equal: o.equal,
                    rule: if o.equal { Rule::Equation } else { o.rule },
                    reason: format!("same left side; right sides: {}", o.reason),
                };
            }
        }
        if !(a.is_expression() && b.is_expression() && x.is_expression() && y.is_expression()) {
            return Outcome::no(Rule::Equation, "equations between structures differ");
        }
        return c.proportional(&difference(a, b), &difference(x, y), false, Rule::Equation);
    }
    if op1 == Rel::Ne && op2 == Rel::Ne {
        return c.proportional(
            &difference(a, b),
            &difference(x, y),
            false,
            Rule::Inequality,
        );
    }
    let norm = |l: &Node, op: Rel, r: &Node| -> Option<(Node, bool)> {
        match op {
            Rel::Lt => Some((difference(l, r), true)),
            Rel::Le => Some((difference(l, r), false)),
            Rel::Gt => Some((difference(r, l), true)),
            Rel::Ge => Some((difference(r, l), false)),
            _ => None,
        }
    };
    match (norm(a, op1, b), norm(x, op2, y)) {
        (Some((f, s1)), Some((g, s2))) => {
            if s1 != s2 {
                return Outcome::no(Rule::Inequality, "strict against non-strict inequality");
            }
            if !(f.is_expression() && g.is_expression()) {
                return Outcome::no(Rule::Inequality, "inequalities between structures");
            }
            c.proportional(&f, &g, true, Rule::Inequality)
        }
        _ => Outcome::no(
            Rule::Mismatch,
            format!("relations {op1:?} and {op2:?} differ"),
        ),
    }
}

/// Canonical form: `±` expanded into sets, singleton collections unwrapped, lists as sets,
/// `x \in S` as `S`, one-variable inequalities with constant bounds as intervals.
pub fn canonical(n: &Node) -> Node {
    match n {
        Node::List(items) | Node::Set(items) => {
            let mut out = Vec::new();
            for it in items {
                match canonical(it) {
                    Node::Set(inner) if has_pm(it) => out.extend(inner),
                    other => out.push(other),
                }
            }
            if out.len() == 1 && !matches!(n, Node::Set(v) if v.is_empty()) {
                out.pop().unwrap_or(Node::Set(vec![]))
            } else {
                Node::Set(out)
            }
        }
        Node::Tuple { open, close, items } => Node::Tuple {
            open: *open,
            close: *close,
            items: items.iter().map(canonical).collect(),
        },
        Node::Matrix(rows) => Node::Matrix(
            rows.iter()
                .map(|r| r.iter().map(canonical).collect())
                .collect(),
        ),
        Node::Union(parts) => {
            let mut v: Vec<Node> = parts.iter().map(canonical).collect();
            if v.len() == 1 {
                v.pop().unwrap_or(Node::Union(vec![]))
            } else {
                Node::Union(v)
            }
        }
        Node::Relation(l, rest) => {
            if let (Node::Sym(_), [(Rel::In, set)]) = (l.as_ref(), rest.as_slice()) {
                return canonical(set);
            }
            if let Some(interval) = inequality_interval(l, rest) {
                return interval;
            }
            if let [(op @ (Rel::Eq | Rel::Approx), rhs)] = rest.as_slice()
                && has_pm(rhs)
            {
                let variants = expand_pm(rhs);
                if variants.len() > 1 {
                    return Node::Set(
                        variants
                            .into_iter()
                            .map(|r| Node::Relation(l.clone(), vec![(*op, r)]))
                            .collect(),
                    );
                }
            }
            n.clone()
        }
        other if has_pm(other) => {
            let v = expand_pm(other);
            if v.len() == 1 {
                v.into_iter().next().unwrap_or(Node::Set(vec![]))
            } else {
                Node::Set(v)
            }
        }
        other => other.clone(),
    }
}

fn has_pm(n: &Node) -> bool {
    n.any(&|m| matches!(m, Node::PlusMinus(..)))
}

/// All sign choices of the `±` in an arithmetic expression (at most [`MAX_PM_VARIANTS`]).
fn expand_pm(n: &Node) -> Vec<Node> {
    fn go(n: &Node) -> Vec<Node> {
        let combine = |parts: Vec<Vec<Node>>, build: &dyn Fn(Vec<Node>) -> Node| -> Vec<Node> {
            let mut acc: Vec<Vec<Node>> = vec![vec![]];
            for options in parts {
                let mut next = Vec::new();
                for prefix in &acc {
                    for o in &options {
                        if next.len() >= MAX_PM_VARIANTS {
                            break;
                        }
                        let mut p = prefix.clone();
                        p.push(o.clone());
                        next.push(p);
                    }
                }
                acc = next;
            }
            acc.into_iter().map(build).collect()
        };
        match n {
            Node::PlusMinus(a, b) => {
                let mut out = Vec::new();
                for x in go(a) {
                    for y in go(b) {
                        out.push(Node::Add(vec![x.clone(), y.clone()]));
                        out.push(Node::Add(vec![x.clone(), Node::Neg(Box::new(y))]));
                    }
                }
                out.truncate(MAX_PM_VARIANTS);
                out
            }
            Node::Neg(a) => go(a).into_iter().map(|x| Node::Neg(Box::new(x))).collect(),
            Node::Add(v) => combine(v.iter().map(go).collect(), &Node::Add),
            Node::Mul(v) => combine(v.iter().map(go).collect(), &Node::Mul),
            Node::Div(a, b) => combine(vec![go(a), go(b)], &|v| {
                Node::Div(Box::new(v[0].clone()), Box::new(v[1].clone()))
            }),
            Node::Pow(a, b) => combine(vec![go(a), go(b)], &|v| {
                Node::Pow(Box::new(v[0].clone()), Box::new(v[1].clone()))
            }),
            Node::Func(f, args) => combine(args.iter().map(go).collect(), &|v| Node::Func(*f, v)),
            other => vec![other.clone()],
        }
    }
    go(n)
}

/// `x > 3`, `-2 \le x < 5`, `3 < x`: an interval when one side is a lone variable and the
/// bounds are constants.
fn inequality_interval(first: &Node, rest: &[(Rel, Node)]) -> Option<Node> {
    let ineq = |r: &Rel| matches!(r, Rel::Lt | Rel::Le | Rel::Gt | Rel::Ge);
    if !rest.iter().all(|(r, _)| ineq(r)) {
        return None;
    }
    let constant = |n: &Node| n.symbols().is_empty() && n.is_expression();
    let neg_inf = Node::Neg(Box::new(Node::Inf));
    let bracket = |strict: bool, open: bool| match (strict, open) {
        (true, true) => '(',
        (false, true) => '[',
        (true, false) => ')',
        (false, false) => ']',
    };
    match rest {
        [(op, rhs)] => {
            let (var_left, bound, op) = if matches!(first, Node::Sym(_)) && constant(rhs) {
                (true, rhs, *op)
            } else if matches!(rhs, Node::Sym(_)) && constant(first) {
                (false, first, *op)
            } else {
                return None;
            };
            // Orient as "variable op bound".
            let op = if var_left {
                op
            } else {
                match op {
                    Rel::Lt => Rel::Gt,
                    Rel::Le => Rel::Ge,
                    Rel::Gt => Rel::Lt,
                    _ => Rel::Le,
                }
            };
            let strict = matches!(op, Rel::Lt | Rel::Gt);
            Some(if matches!(op, Rel::Lt | Rel::Le) {
                Node::Tuple {
                    open: '(',
                    close: bracket(strict, false),
                    items: vec![neg_inf, bound.clone()],
                }
            } else {
                Node::Tuple {
                    open: bracket(strict, true),
                    close: ')',
                    items: vec![bound.clone(), Node::Inf],
                }
            })
        }
        [(op1, mid), (op2, hi)] => {
            if !(matches!(mid, Node::Sym(_)) && constant(first) && constant(hi)) {
                return None;
            }
            let up = |r: &Rel| matches!(r, Rel::Lt | Rel::Le);
            let strict = |r: &Rel| matches!(r, Rel::Lt | Rel::Gt);
            if up(op1) && up(op2) {
                Some(Node::Tuple {
                    open: bracket(strict(op1), true),
                    close: bracket(strict(op2), false),
                    items: vec![first.clone(), hi.clone()],
                })
            } else if !up(op1) && !up(op2) {
                Some(Node::Tuple {
                    open: bracket(strict(op2), true),
                    close: bracket(strict(op1), false),
                    items: vec![hi.clone(), first.clone()],
                })
            } else {
                None
            }
        }
        _ => None,
    }
}
