# %% [markdown]
# # 1. Computational graphs and reverse-mode differentiation
#
# A neural network is one big composite function, and training needs its derivative with respect
# to every parameter. *Automatic differentiation* gets it by splitting the function into elementary
# steps, each with a derivative we know, and applying the chain rule. This notebook works one small
# example by hand and then lets `autograd_core` do the same, step by step, so that you can see that
# `backward()` does nothing more mysterious than the hand calculation.
#
# The worked example and the static-vs-dynamic discussion follow the course notes this project grew
# from (after Qiu Xipeng, *Neural Networks and Deep Learning*, ch. 4: "computational graphs and
# automatic differentiation").

# %%
import re

import numpy as np

import autograd_core as ag

# %% [markdown]
# ## The function, one elementary step at a time
#
# The logistic neuron
#
# $$f(x; w, b) = \frac{1}{\exp(-(wx + b)) + 1}$$
#
# splits into six steps, each with a local derivative that is easy to write down:
#
# | step | local derivative(s) |
# |---|---|
# | $h_1 = x \cdot w$ | $\partial h_1/\partial w = x$, $\ \partial h_1/\partial x = w$ |
# | $h_2 = h_1 + b$ | $\partial h_2/\partial h_1 = 1$, $\ \partial h_2/\partial b = 1$ |
# | $h_3 = -h_2$ | $\partial h_3/\partial h_2 = -1$ |
# | $h_4 = \exp(h_3)$ | $\partial h_4/\partial h_3 = \exp(h_3)$ |
# | $h_5 = h_4 + 1$ | $\partial h_5/\partial h_4 = 1$ |
# | $h_6 = 1/h_5$ | $\partial h_6/\partial h_5 = -1/h_5^2$ |
#
# The chain rule multiplies the local derivatives along the path from $w$ to $f = h_6$:
#
# $$\frac{\partial f}{\partial w} = \frac{\partial h_6}{\partial h_5}\,\frac{\partial h_5}{\partial h_4}\,
# \frac{\partial h_4}{\partial h_3}\,\frac{\partial h_3}{\partial h_2}\,\frac{\partial h_2}{\partial h_1}\,
# \frac{\partial h_1}{\partial w}.$$
#
# **Reverse mode** evaluates this product from the left: it starts with $\partial f/\partial h_6 = 1$ and
# walks back through the steps, keeping at each step the *adjoint* $\bar h_i = \partial f/\partial h_i$.
# Every parameter's gradient is then one more multiplication away, so one backward walk gives the
# gradient with respect to *all* inputs at once, which is why training uses reverse mode.
#
# ### By hand, at $x = 1,\ w = 0,\ b = 0$

# %%
x_value, w_value, b_value = 1.0, 0.0, 0.0

# forward: the value of every step
h1 = x_value * w_value
h2 = h1 + b_value
h3 = -h2
h4 = np.exp(h3)
h5 = h4 + 1
h6 = 1 / h5

# backward: the adjoint of every step, from the output towards the inputs
adjoint = {"h6": 1.0}
adjoint["h5"] = adjoint["h6"] * (-1 / h5**2)
adjoint["h4"] = adjoint["h5"] * 1
adjoint["h3"] = adjoint["h4"] * np.exp(h3)
adjoint["h2"] = adjoint["h3"] * -1
adjoint["h1"] = adjoint["h2"] * 1
adjoint["w"] = adjoint["h1"] * x_value
adjoint["x"] = adjoint["h1"] * w_value
adjoint["b"] = adjoint["h2"] * 1

print(f"f = {h6}")
for name, value in adjoint.items():
    print(f"df/d{name:2} = {value:+.4f}")

# %% [markdown]
# So $\partial f/\partial w = 1 \times (-0.25) \times 1 \times 1 \times (-1) \times 1 \times 1 = 0.25$.
#
# ### The same with `autograd_core`
#
# Each operation on tensors records a node of the graph as it runs. `retain_grad()` asks the engine to
# keep the adjoint of an intermediate tensor (normally only the leaves' gradients are kept), so that we
# can compare every step with the hand calculation.

# %%
x = ag.tensor(x_value, dtype=np.float64, requires_grad=True)
w = ag.tensor(w_value, dtype=np.float64, requires_grad=True)
b = ag.tensor(b_value, dtype=np.float64, requires_grad=True)

steps = {}
steps["h1"] = x * w
steps["h2"] = steps["h1"] + b
steps["h3"] = -steps["h2"]
steps["h4"] = steps["h3"].exp()
steps["h5"] = steps["h4"] + 1
steps["h6"] = 1 / steps["h5"]
for tensor in steps.values():
    tensor.retain_grad()

f = steps["h6"]
f.backward()

engine_adjoint = {name: tensor.grad.item() for name, tensor in steps.items()}
engine_adjoint.update(w=w.grad.item(), x=x.grad.item(), b=b.grad.item())
for name in adjoint:
    print(f"df/d{name:2}  by hand {adjoint[name]:+.4f}   backward() {engine_adjoint[name]:+.4f}")

# %% [markdown]
# ### The graph
#
# `ag.viz.draw_graph` walks the recorded graph back from `f` and draws it with Graphviz (a
# `graphviz.Digraph` renders itself inline in Jupyter). Each rounded box is one recorded operation with its
# output shape (scalars: `()`); leaves (the inputs) are square-cornered boxes; the output has a double border.
# The constants (`1`, and `x` were it not a tensor that requires grad) are folded into their ops.
#
# Without gradients the leaves are filled pale yellow and the ops light grey (the drawing at the end of this
# notebook). With `show_grads=True`, after `backward()`, every node whose gradient is known is filled instead
# by the size of that gradient, on the colour bar drawn beside the graph: greens for healthy norms, blues for
# vanishing ones, reds for exploding ones. Here the output ($|\bar h_6| = 1$) is dark green, every other
# intermediate step and the leaves `w` and `b` ($|\bar h_i| = 0.25$) a lighter green, and `x` dark blue,
# the "vanishing" colour, because its gradient is exactly zero: $\partial f/\partial x$ carries the factor
# $w = 0$. The next cell reads the fill colours back from the drawing's DOT source, so that the description
# above is checked, not just asserted in prose.

# %%
graph = ag.viz.draw_graph(f, params={"x": x, "w": w, "b": b, **steps}, show_grads=True)
graph


# %%
def fill_colours(drawing):
    """`{first label line: fill colour}` of the drawn nodes (ops without a fill of their own: the default)."""
    default = re.search(r'node \[fillcolor="([^"]+)"', drawing.source).group(1)
    fills = {}
    for label, attributes in re.findall(r'\s+n\d+ \[label="([^"]*)"([^\]]*)\]', drawing.source):
        colour = re.search(r'fillcolor="([^"]+)"', attributes)
        fills[label.splitlines()[0]] = colour.group(1) if colour else default
    return fills


with_grads = fill_colours(graph)
without_grads = fill_colours(ag.viz.draw_graph(f, params={"x": x, "w": w, "b": b}))
for name in ("x", "w", "b", "h1", "h6"):
    print(f"{name:3} with show_grads: {with_grads[name]}", end="   ")
    print(f"plain drawing: {without_grads.get(name, '(an op: unnamed there)')}")
print(
    "plain drawing, the ops:",
    sorted({colour for label, colour in without_grads.items() if label not in ("x", "w", "b")}),
)

# %% [markdown]
# ### Checking against the definition of the derivative
#
# A central difference $\big(f(w + \varepsilon) - f(w - \varepsilon)\big) / 2\varepsilon$ approximates the
# derivative with an error of order $\varepsilon^2$. `ag.gradcheck` does exactly this for every input (in
# float64) and raises if any analytic gradient disagrees.


# %%
def logistic_neuron(x, w, b):
    return 1 / ((-(x * w + b)).exp() + 1)


def f_at(x, w, b):
    return logistic_neuron(*(ag.tensor(v, dtype=np.float64) for v in (x, w, b))).item()


eps = 1e-6
central_difference = (f_at(x_value, w_value + eps, b_value) - f_at(x_value, w_value - eps, b_value)) / (2 * eps)
print(f"central difference df/dw = {central_difference:.8f}")

random_point = [ag.tensor(v, dtype=np.float64, requires_grad=True) for v in (0.7, -1.3, 0.4)]
print("gradcheck at (x, w, b) = (0.7, -1.3, 0.4):", ag.gradcheck(logistic_neuron, random_point))

# %% [markdown]
# ### Forward mode, for contrast
#
# Forward mode propagates a *tangent* (a direction in input space) along with the values, from the
# inputs to the output: one pass gives the derivative along one direction. Getting the gradient with
# respect to $n$ parameters takes $n$ forward-mode passes but only one reverse-mode pass, and a network
# has millions of parameters and one scalar loss. `ag.func.jvp` computes a forward-mode product.

# %%
point = [np.array(v) for v in (x_value, w_value, b_value)]  # float64 arrays
_, df_along_w = ag.func.jvp(logistic_neuron, point, [np.array(0.0), np.array(1.0), np.array(0.0)])
_, df_along_b = ag.func.jvp(logistic_neuron, point, [np.array(0.0), np.array(0.0), np.array(1.0)])
print(f"forward mode: df/dw = {df_along_w.item():.4f} (one pass), df/db = {df_along_b.item():.4f} (another pass)")

# %% [markdown]
# ## Gradients add up over every path
#
# When a value feeds several operations, it influences the output along several paths, and the chain
# rule says its derivative is the **sum** over those paths. Take $a = 3w$, $c = w^2$ and $g = a \cdot c$
# (so $g = 3w^3$ and $dg/dw = 9w^2$):
#
# $$\frac{dg}{dw} = \underbrace{\frac{\partial g}{\partial a}\frac{da}{dw}}_{c \cdot 3 \,=\, 3w^2}
# + \underbrace{\frac{\partial g}{\partial c}\frac{dc}{dw}}_{a \cdot 2w \,=\, 6w^2} = 9w^2.$$
#
# The engine accumulates (`+=`) the contribution of each path into the pending gradient of $w$. Hooks
# (`register_hook`) let us watch each contribution arrive.

# %%
w2 = ag.tensor(2.0, dtype=np.float64, requires_grad=True)
a = 3 * w2
c = w2**2
g = a * c

contributions = []
a_path = a.register_hook(lambda grad: contributions.append(("through a = 3w", 3 * grad.item())))
c_path = c.register_hook(lambda grad: contributions.append(("through c = w^2", 2 * w2.item() * grad.item())))
g.backward()
a_path.remove()
c_path.remove()

for path, value in contributions:
    print(f"{path:18} contributes {value:5.1f}")
print(
    f"sum of the paths: {sum(v for _, v in contributions):.1f};  w.grad = {w2.grad.item():.1f};  "
    f"9 w^2 = {9 * 2.0**2:.1f}"
)

# %% [markdown]
# The same rule makes gradients **accumulate across backward calls**: a leaf's `.grad` is summed into,
# never overwritten, just as PyTorch does. That is why a training loop zeroes the gradients before every
# step.

# %%
w3 = ag.tensor(2.0, dtype=np.float64, requires_grad=True)
(w3 * w3).backward()
first = w3.grad.item()
(w3 * w3).backward()
print(f"after one backward: {first}, after two: {w3.grad.item()} (= 2 x 2w)")
accumulated_twice = w3.grad.item()

# %% [markdown]
# ## Static and dynamic graphs
#
# A **static** graph (Theano, TensorFlow 1) is built once, before any data flows through it; it can be
# optimised ahead of time, but a loop or a branch that depends on the data must be written with special
# graph operations. A **dynamic** graph (Chainer, DyNet, PyTorch and this engine) is recorded while the
# Python code runs ("define by run"): ordinary `if` and `while` decide which operations happen, and each
# input gets its own graph. The price is that nothing can be optimised before the run.
#
# Below, `square_until_large` squares its input until it exceeds 10. How many operations that takes
# depends on the value: from $x = 1.5$ it squares three times ($f = x^8$), from $x = 3$ twice ($f = x^4$).
# Each call records only the operations that really ran, so `backward()` differentiates the path taken:
# $8x^7$ in one case, $4x^3$ in the other.


# %%
def square_until_large(x, limit=10.0):
    while x.item() <= limit:
        x = x * x
    return x


def count_ops(root):
    """The number of recorded operations behind `root`: walk `grad_fn.next_functions` back to the leaves."""
    seen, stack = set(), [root.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen or hasattr(node, "variable"):  # AccumulateGrad: a leaf, not an op
            continue
        seen.add(id(node))
        stack.extend(parent for parent, _ in node.next_functions)
    return len(seen)


dynamic = {}
for start in (1.5, 3.0):
    x_in = ag.tensor(start, dtype=np.float64, requires_grad=True)
    out = square_until_large(x_in)
    out.backward()
    dynamic[start] = (count_ops(out), x_in.grad.item())
    print(f"x = {start}: {count_ops(out)} ops recorded, f = {out.item():.4g}, df/dx = {x_in.grad.item():.6g}")
print(f"closed forms: 8 * 1.5**7 = {8 * 1.5**7:.6g}, 4 * 3**3 = {4 * 3.0**3:.6g}")

# %%
ag.viz.draw_graph(square_until_large(ag.tensor(1.5, requires_grad=True)))

# %% [markdown]
# ## Findings
#
# Every number quoted above, asserted, so that a change to the engine that breaks one of them fails CI:
#
# - the hand-computed chain rule gives $\partial f/\partial w = \partial f/\partial b = 0.25$ and
#   $\partial f/\partial x = 0$ at $x = 1, w = b = 0$, and `backward()` gives the same adjoint at *every*
#   intermediate step;
# - in the drawing with gradients, `x` is filled with the colour bar's "vanishing" blue (its gradient is
#   exactly 0), `w`, `b` and the intermediate steps with the healthy green of norms in $[10^{-3}, 1)$, the output
#   with the darker green of $[1, 10^3)$; without gradients the leaves are pale yellow and the ops light grey;
# - central differences and forward mode agree;
# - the gradient of a reused value is the sum over its paths ($12 + 24 = 36$), and leaf gradients
#   accumulate across backward calls;
# - a dynamic graph records only the operations that ran: 3 squarings from 1.5, 2 from 3.0, with the
#   matching derivatives.

# %%
assert adjoint["w"] == 0.25 and adjoint["b"] == 0.25 and adjoint["x"] == 0.0
for name in adjoint:
    assert np.isclose(engine_adjoint[name], adjoint[name], rtol=0, atol=1e-12), name
assert with_grads["x"] == ag.viz.grad_band(0.0)[1] and "vanishing" in ag.viz.grad_band(0.0)[3]
assert with_grads["w"] == with_grads["b"] == with_grads["h1"] == ag.viz.grad_band(0.25)[1]
assert with_grads["h6"] == ag.viz.grad_band(1.0)[1] != with_grads["w"]
assert without_grads["x"] == without_grads["w"] == without_grads["b"] == "#fff2cc"  # pale yellow
assert without_grads["mul"] == without_grads["div"] == "#eeeeee"  # light grey
assert abs(central_difference - 0.25) < 1e-8
assert np.isclose(df_along_w.item(), 0.25) and np.isclose(df_along_b.item(), 0.25)
assert sorted(v for _, v in contributions) == [12.0, 24.0] and w2.grad.item() == 36.0
assert first == 4.0 and accumulated_twice == 8.0
assert dynamic[1.5][0] == 3 and np.isclose(dynamic[1.5][1], 8 * 1.5**7)
assert dynamic[3.0][0] == 2 and np.isclose(dynamic[3.0][1], 4 * 3.0**3)

# %% [markdown]
# ## Exercises
#
# Solutions, as a script that computes and asserts each answer: `notebooks/solutions/01_computational_graphs.py`.
#
# 1. **The graph by hand at another point.** Redo the forward and backward tables at $(x, w, b) = (2, -1, 0.5)$:
#    the value of every $h_i$ and every adjoint $\bar h_i$, then $\partial f/\partial w$, $\partial f/\partial x$
#    and $\partial f/\partial b$. Check your numbers against `backward()` with `retain_grad()`.
# 2. **The sigmoid's derivative from the graph.** Multiply the local derivatives from $h_6$ back to $h_2$ and
#    show that $\partial f/\partial h_2 = \exp(h_3)/h_5^2 = f(1 - f)$. Check it at five points.
# 3. **Two paths through a non-linear function.** For $g = \sin(w) \cdot w^2$, write $dg/dw$ as the sum of the
#    contributions of the two paths from $w$, and check the sum against `w.grad` at $w = 0.7$.
# 4. **Forward or reverse?** For $f(x) = \sum_i \tanh\big((Ax)_i\big)$ with $A$ a $100 \times 100$ matrix,
#    how many `ag.func.jvp` passes give the full gradient, and how many backward passes? Build the gradient both
#    ways and check that they agree.
# 5. **A dynamic graph, predicted.** Without running it, how many squarings does `square_until_large` record from
#    $x = 1.1$, and what is $df/dx$? Then run it.
