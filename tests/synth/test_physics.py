"""Physics of the simulator: the coefficient table, Beer–Lambert, compositing, ratio ordering."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from vision.physics import materials
from vision.physics.materials import (
    MATERIALS,
    SPECTRA,
    basis_per_mm,
    dual_energy_ratio,
    linear_attenuation_per_mm,
    spectrum_model,
)
from vision.physics.profiles import PROFILES, ScannerProfile
from vision.synth.projector import Canvas, detect
from vision.synth.shapes import rounded_box

HAS_XRAYDB = importlib.util.find_spec("xraydb") is not None


def test_table_covers_every_material_and_spectrum() -> None:
    table = materials.load_table()
    for spectrum in SPECTRA:
        assert set(table["spectra"][spectrum]["materials"]) == set(MATERIALS)
        low, high = linear_attenuation_per_mm("water", spectrum)
        assert 0 < high < low


@pytest.mark.skipif(not HAS_XRAYDB, reason="xraydb (train extra) not installed")
@pytest.mark.parametrize("name", ["water", "steel", "cocaine", "ivory"])
def test_table_matches_xraydb(name: str) -> None:
    spectrum = SPECTRA["kv160"]
    low, high = materials.effective_mass_attenuation(MATERIALS[name], spectrum)
    stored_low, stored_high = materials.load_table()["spectra"]["kv160"]["materials"][name][
        "mass_attenuation"
    ]
    assert stored_low == pytest.approx(low, rel=1e-4)
    assert stored_high == pytest.approx(high, rel=1e-4)
    energies, w_low, w_high = materials.detector_weights(spectrum)
    assert basis_per_mm(name, "kv160") == pytest.approx(
        materials.basis_fit(MATERIALS[name], energies, w_low + w_high), rel=1e-6
    )


@pytest.mark.parametrize("spectrum", list(SPECTRA))
def test_attenuation_grows_with_thickness(spectrum: str) -> None:
    model = spectrum_model(spectrum)
    thickness = np.array([0.0, 0.5, 2.0, 10.0, 40.0])
    for name in ("textile", "water", "aluminium", "steel", "lead"):
        low, high = model.material_curve(name, thickness)
        assert low[0] == pytest.approx(0.0, abs=1e-12) and high[0] == pytest.approx(0.0, abs=1e-12)
        assert np.all(np.diff(low) > 0) and np.all(np.diff(high) > 0)


def test_transmission_is_in_unit_interval_and_monotone_on_the_canvas() -> None:
    canvas = Canvas(40, 60, 1.0, "kv160")
    for k, depth in enumerate((2.0, 8.0, 30.0)):
        canvas.add(rounded_box(10 + 20 * k, 20, 8, 15, depth, 0.0, 1.0), "steel")
    att_low, att_high = canvas.attenuation()
    t_high, t_low = np.exp(-att_high), np.exp(-att_low)
    assert np.all((t_high > 0) & (t_high <= 1)) and np.all((t_low > 0) & (t_low <= 1))
    centres = [t_high[20, 10 + 20 * k] for k in range(3)]
    assert centres[0] > centres[1] > centres[2]
    assert t_high[0, 0] == pytest.approx(1.0)
    high, low = detect(att_low, att_high, PROFILES["delta140"], np.random.default_rng(0))
    for t in (high, low):
        assert t.dtype == np.float32 and t.min() > 0 and t.max() <= 1.0


def test_ratio_increases_with_atomic_number() -> None:
    # Thin-sample ratios: C/H (polyethylene) < water < Al (Z 13) < Fe (26) < Cu (29), for every spectrum.
    for spectrum in SPECTRA:
        ratios = [dual_energy_ratio(m, spectrum) for m in ("polyethylene", "water", "aluminium", "steel")]
        assert ratios == sorted(ratios) and len(set(ratios)) == 4
    # Polychromatic, at the same high-energy attenuation (what the display sees): organic < mixed < metal.
    for spectrum in ("kv140", "kv160", "kv180"):
        model = spectrum_model(spectrum)
        r = []
        for name in ("water", "aluminium", "steel"):
            thickness = np.geomspace(1e-2, 100, 800) / linear_attenuation_per_mm(name, spectrum)[1]
            low, high = model.material_curve(name, thickness)
            r.append(float(np.interp(0.5, high, low / high)))
        assert r[0] < r[1] < r[2]


def test_colour_classes_are_ordered_by_ratio() -> None:
    # Lead is left out: its K edge (88 keV) sits inside the spectra and lowers its ratio (documented).
    for spectrum in SPECTRA:
        by_class: dict[str, list[float]] = {}
        for name, material in MATERIALS.items():
            if name != "lead":
                by_class.setdefault(material.colour_class, []).append(dual_energy_ratio(name, spectrum))
        assert max(by_class["organic"]) < min(by_class["mixed"])
        assert max(by_class["mixed"]) < min(by_class["metal"])


def test_objects_composite_multiplicatively_per_energy() -> None:
    spectrum = "kv160"
    a, b, both = (Canvas(30, 30, 1.0, spectrum) for _ in range(3))
    box_a = rounded_box(12, 15, 9, 9, 20.0, 0.3, 2.0)
    box_b = rounded_box(18, 15, 9, 9, 3.0, -0.2, 2.0)
    a.add(box_a, "water")
    b.add(box_b, "steel")
    both.add(box_a, "water")
    both.add(box_b, "steel")
    # Line integrals add, so at every energy T_both = T_a · T_b.
    np.testing.assert_allclose(both.basis_pe, a.basis_pe + b.basis_pe, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(both.basis_cu, a.basis_cu + b.basis_cu, rtol=1e-6, atol=1e-6)
    entry = materials.load_table()["spectra"][spectrum]
    mu_pe, mu_cu = (np.asarray(m) for m in entry["basis_mu_per_mm"])
    y, x = 15, 15
    per_energy = [np.exp(-(mu_pe * c.basis_pe[y, x] + mu_cu * c.basis_cu[y, x])) for c in (a, b, both)]
    np.testing.assert_allclose(per_energy[2], per_energy[0] * per_energy[1], rtol=1e-5)
    # The detector sums over the spectrum; the lookup table reproduces that sum.
    w_high = np.asarray(entry["weight_high"])
    exact = -np.log((w_high * per_energy[2]).sum())
    assert both.attenuation()[1][y, x] == pytest.approx(exact, rel=0.01)


def test_lookup_table_matches_the_exact_spectral_sum() -> None:
    rng = np.random.default_rng(3)
    b_pe = rng.uniform(0, 400, (1, 50)).astype(np.float32)
    b_cu = rng.uniform(0, 8, (1, 50)).astype(np.float32)
    model = spectrum_model("kv140")
    entry = materials.load_table()["spectra"]["kv140"]
    mu_pe, mu_cu = (np.asarray(m) for m in entry["basis_mu_per_mm"])
    low, high = model.attenuation(b_pe, b_cu)
    path = np.exp(-(np.outer(b_pe[0], mu_pe) + np.outer(b_cu[0], mu_cu)))
    for got, channel in ((low, "low"), (high, "high")):
        exact = -np.log(path @ np.asarray(entry[f"weight_{channel}"]))
        np.testing.assert_allclose(got[0], exact, rtol=0.02, atol=0.01)


def test_profiles_describe_several_scanners() -> None:
    from vision.physics.profiles import HELD_OUT_PROFILE, TRAIN_PROFILES

    assert len(PROFILES) >= 4
    assert HELD_OUT_PROFILE in PROFILES and HELD_OUT_PROFILE not in TRAIN_PROFILES
    assert set(TRAIN_PROFILES) | {HELD_OUT_PROFILE} == set(PROFILES)
    widths = [w for p in PROFILES.values() for w in p.width_px]
    assert min(widths) <= 500 and max(widths) >= 1400
    for profile in PROFILES.values():
        assert isinstance(profile, ScannerProfile)
        assert profile.spectrum in SPECTRA and profile.vehicle_spectrum in SPECTRA
