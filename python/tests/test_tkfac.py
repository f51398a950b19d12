"""Tests of the Python module (run by ctest, one process per test, with Debian's python3)."""
import csv
import os
import subprocess

import numpy as np
import pytest

import tkfac


def spd(n, kappa, seed):
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    m = q @ np.diag(np.logspace(0.0, np.log10(kappa), n)) @ q.T
    return 0.5 * (m + m.T), rng


def test_version_and_backends():
    assert tkfac.__version__.count(".") == 2
    assert set(tkfac.backends()) >= {"cholesky", "cg", "spice", "ou"}


@pytest.mark.parametrize("backend,options,tolerance", [
    # Digital: to round-off.
    ("cholesky", {}, 1e-12),
    ("cg", {"cg_tolerance": 1e-13}, 1e-10),
    # The noiseless circuit, relaxed to 1e-6 of the start error (target_rel_error), read back
    # in double precision: the behavioral encoding to 1e-6, the integrator (op-amp gain 1e6,
    # resistors trimmed for it) alike.
    ("spice", {}, 2e-6),
    ("spice", {"encoding": "integrator"}, 2e-6),
    ("ou", {}, 2e-6),
])
def test_solve_matches_numpy(backend, options, tolerance):
    m, rng = spd(6, 30.0, 1)
    b = rng.standard_normal((6, 2))
    x_ref = np.linalg.solve(m, b)
    x, report = tkfac.solve(m, b, backend=backend, **options)
    assert x.shape == b.shape
    assert report["backend"] == backend
    err = np.linalg.norm(x - x_ref) / np.linalg.norm(x_ref)
    assert err < tolerance, (backend, options, err, report)
    # A vector right-hand side gives a vector back.
    xv, _ = tkfac.solve(m, b[:, 0], backend=backend, **options)
    assert xv.shape == (6,)
    assert np.allclose(xv, x[:, 0], rtol=0, atol=10 * tolerance * np.abs(x_ref).max())


def test_solve_noisy_within_its_standard_error():
    # The exact twin with noise: the estimate's error against numpy, in its own standard errors.
    m, rng = spd(4, 10.0, 2)
    b = rng.standard_normal(4)
    x, report = tkfac.solve(m, b, backend="ou", noise_variance=1e-2,
                            target_standard_error=1e-2, noise_seed=3)
    se = report["standard_errors"].reshape(-1)
    z = np.abs(x - np.linalg.solve(m, b)) / se
    assert report["standard_error"] <= 1.5e-2
    assert z.max() < 5.0, z


def test_bad_options_raise_input_error_naming_them():
    m, _ = spd(3, 2.0, 3)
    with pytest.raises(tkfac.InputError, match="no_such_option"):
        tkfac.solve(m, np.ones(3), no_such_option=1)
    with pytest.raises(tkfac.InputError, match="backend"):
        tkfac.solve(m, np.ones(3), backend="magic")
    with pytest.raises(ValueError):  # InputError is a ValueError
        tkfac.solve(m, np.ones(4))


def test_netlist_and_report():
    m = np.array([[4.0, 1.0, 0.0], [1.0, 3.0, 1.0], [0.0, 1.0, 2.0]])
    text, report = tkfac.netlist(m, np.array([1.0, 2.0, 3.0]), encoding="integrator",
                                 resistance=2e3)
    assert text.rstrip().endswith(".end")
    assert "integrator" in text.splitlines()[0]
    assert report["encoding"] == "integrator"
    assert report["matrix_scale"] == 4.0
    assert report["resistance"] == 2e3
    assert report["predicted_tau"] == pytest.approx(2e3 * 1e-9 / report["alpha_min"], rel=1e-12)
    assert any("resistance" in line for line in report["lines"])


def test_sample_mean_and_covariance():
    m, rng = spd(3, 5.0, 4)
    b = rng.standard_normal(3)
    times, samples, report = tkfac.sample(m, b, backend="ou", noise_variance=1e-2,
                                          target_standard_error=2e-3, noise_seed=7)
    assert samples.shape == (times.shape[0], 3)
    assert report["samples"] == samples.shape[0]
    z = np.abs(samples.mean(axis=0) - np.linalg.solve(m, b)) / report["standard_errors"].reshape(-1)
    assert z.max() < 5.0, z


def test_relax_ratio_and_refusal():
    m, _ = spd(4, 10.0, 5)
    r = tkfac.relax(m)
    assert r["ratio"] == pytest.approx(1.0, abs=0.02)
    assert r["matrix_scale"] > 0
    w, v = np.linalg.eigh(m)
    fast = v[:, 1:].sum(axis=1)
    fast /= np.linalg.norm(fast)
    x = np.sqrt(1 - 1e-20) * fast + 1e-10 * v[:, 0]
    with pytest.raises(tkfac.InputError, match="slowest mode"):
        tkfac.relax(m, m @ x)


def numpy_mlp_arrays(weights, x, y):
    """Forward and backward of a tanh MLP in numpy: per layer its input a and dL/ds of the mean
    softmax cross-entropy (batch-first), as a numpy or PyTorch loop would have them."""
    acts, pres = [], []
    a = x
    for l, w in enumerate(weights):
        acts.append(a)
        s = a @ w[:, :-1].T + w[:, -1]
        pres.append(s)
        a = np.tanh(s) if l + 1 < len(weights) else s
    logits = a - a.max(axis=1, keepdims=True)
    p = np.exp(logits)
    p /= p.sum(axis=1, keepdims=True)
    g = p.copy()
    g[np.arange(len(y)), y] -= 1.0
    g /= len(y)
    grads_out = [None] * len(weights)
    for l in reversed(range(len(weights))):
        grads_out[l] = g
        if l > 0:
            g = (g @ weights[l][:, :-1]) * (1.0 - np.tanh(pres[l - 1]) ** 2)
    return acts, grads_out


@pytest.mark.parametrize("options", [
    {},
    {"method": "solve", "damping_scheme": "tikhonov", "momentum": 0.9},
    {"bias": "separate", "kl_clip": 1e-3, "weight_decay": 1e-4},
])
def test_kfac_preconditioner_equals_tkfac_step(options):
    # The same batches through tkfac's own K-FAC step on its MLP and through the preconditioner
    # on numpy arrays: the weights after each step agree to 1e-12 (relative to the step).
    lr = 0.1
    rng = np.random.default_rng(6)
    mlp = tkfac.Mlp([5, 7, 3], "tanh", seed=2)
    reference = tkfac.KfacPreconditioner(learning_rate=lr, damping=1e-2, **options)
    ours = tkfac.KfacPreconditioner(learning_rate=lr, damping=1e-2, **options)
    weights = [w.copy() for w in mlp.weights]
    for step in range(3):
        x = rng.standard_normal((16, 5))
        y = rng.integers(0, 3, 16)
        acts, gouts = numpy_mlp_arrays(weights, x, y)
        directions = ours.step(acts, gouts, weights=weights)
        before = [w.copy() for w in mlp.weights]
        tkfac.kfac_step(reference, mlp, x, y.tolist())
        for l, (w0, w1, d) in enumerate(zip(before, mlp.weights, directions)):
            expected = (w0 - w1) / lr
            assert d.shape == w0.shape
            scale = np.abs(expected).max()
            assert np.abs(d - expected).max() <= 1e-12 * scale, (step, l)
        weights = [w - lr * d for w, d in zip(weights, directions)]
    assert ours.steps == 3


def test_kfac_preconditioner_through_the_circuit():
    # The preconditioner with the ou backend (the circuit's exact twin, noiseless): the same
    # directions as with Cholesky, to the circuit's relaxation target.
    rng = np.random.default_rng(8)
    acts = [rng.standard_normal((32, 4))]
    gouts = [rng.standard_normal((32, 3)) / 32]
    exact = tkfac.KfacPreconditioner(damping=1e-1).step(acts, gouts)[0]
    twin = tkfac.KfacPreconditioner(damping=1e-1, backend="ou").step(acts, gouts)[0]
    assert np.abs(twin - exact).max() <= 1e-4 * np.abs(exact).max()


def cli(*args, cwd):
    subprocess.run([os.environ["TKFAC_CLI"], *args], cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_every_cli_csv_reads_with_a_header(tmp_path):
    # numpy.genfromtxt(names=True) and the csv module (what pandas.read_csv does by default)
    # read each table the program writes; names come from the first line.
    m = np.array([[4.0, 1.0, 0.0], [1.0, 3.0, 1.0], [0.0, 1.0, 2.0]])
    np.savetxt(tmp_path / "M.csv", m, delimiter=",")
    cli("relax", "--sizes", "2", "--kappas", "1", "10", "--csv", "relax.csv", cwd=tmp_path)
    cli("sample", "--matrix", "M.csv", "--noise-variance", "0.01", "--backend", "ou",
        "--window", "1e-4", "-o", "samples.csv", cwd=tmp_path)
    cli("train", "--quiet", "--dataset", "synthetic", "--steps", "5", "--log", "log.csv",
        cwd=tmp_path)
    expect = {"relax.csv": ("encoding", "matrix_scale", "ratio"),
              "samples.csv": ("t", "x_0", "x_2"),
              "log.csv": ("run", "step", "train_loss")}
    for name, columns in expect.items():
        table = np.genfromtxt(tmp_path / name, delimiter=",", names=True, dtype=None,
                              encoding="utf-8")
        assert all(c in table.dtype.names for c in columns), (name, table.dtype.names)
        assert table.size >= 2
        with open(tmp_path / name, newline="") as f:
            rows = list(csv.reader(f))
        assert all(len(r) == len(rows[0]) for r in rows), name
    relax = np.genfromtxt(tmp_path / "relax.csv", delimiter=",", names=True, dtype=None,
                          encoding="utf-8")
    assert np.all(np.abs(relax["ratio"] - 1.0) < 0.02)
