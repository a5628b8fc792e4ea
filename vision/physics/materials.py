"""Materials (composition, density) and the polychromatic dual-energy physics of each scanner spectrum.

Runtime code reads the committed table ``attenuation.json`` (plain numpy, no xraydb). The table is built
from xraydb's Elam cross-sections by ``python -m vision.physics.materials --rebuild`` and holds, per spectrum
in ``SPECTRA``:

- the energy grid and the signal weight of each energy in the low and the high detector (Kramers
  bremsstrahlung, source filtration, a thin front scintillator for the low channel, a copper filter and a
  thick scintillator for the high channel; energy-integrating detectors);
- the attenuation of two basis materials (polyethylene and copper) on that grid;
- for every material, its basis decomposition (mm of polyethylene and of copper equivalent to 1 mm of the
  material, a least-squares fit of mu(E) over the spectrum) and its thin-sample effective attenuation.

A scene is projected as two basis line integrals; each channel's transmission is then the polychromatic
sum T = Σ_E w(E) exp(-mu_PE(E)·B_PE - mu_Cu(E)·B_Cu), looked up in a precomputed 2-D table. Beam hardening
(R falls with thickness, steel looks less dense than a monochromatic model says) comes out of that sum.
The basis fit is exact between absorption edges; lead's K edge (88 keV) is approximated.
"""

from __future__ import annotations

import argparse
import functools
import json
import pathlib
from dataclasses import dataclass
from typing import Any

import numpy as np

TABLE_PATH = pathlib.Path(__file__).with_name("attenuation.json")


@dataclass(frozen=True)
class Material:
    """A material: mass fractions of simple compounds (xraydb formulas) and a bulk density.

    ``colour_class`` is the nominal workstation colour ("organic", "mixed", "metal") used in tests and docs.
    """

    name: str
    components: tuple[tuple[str, float], ...]
    density_g_cm3: float
    colour_class: str


def _m(name: str, density: float, colour: str, *components: tuple[str, float]) -> Material:
    return Material(name, tuple(components), density, colour)


# Compositions are simplified but keep the elements that set the effective Z (Cl in PVC, Ca in ivory,
# K/Ca in tobacco, fillers in paper). Bulk densities include the air in packed goods.
MATERIALS: dict[str, Material] = {
    m.name: m
    for m in (
        _m("textile", 0.35, "organic", ("C6H10O5", 0.6), ("C10H8O4", 0.4)),
        _m("paper", 0.85, "organic", ("C6H10O5", 0.88), ("CaCO3", 0.08), ("Al2Si2O5(OH)4", 0.04)),
        _m("cardboard", 0.65, "organic", ("C6H10O5", 0.95), ("CaCO3", 0.05)),
        _m("polyethylene", 0.94, "organic", ("C2H4", 1.0)),
        _m("abs_plastic", 1.1, "organic", ("C15H17N", 1.0)),
        _m("polycarbonate", 1.2, "organic", ("C16H14O3", 1.0)),
        _m("pvc", 1.4, "mixed", ("C2H3Cl", 1.0)),
        _m("polymer_grip", 1.4, "organic", ("C6H11NO", 0.7), ("SiO2", 0.3)),
        _m("rubber", 1.2, "organic", ("C5H8", 0.88), ("S", 0.02), ("ZnO", 0.03), ("C", 0.07)),
        _m("leather", 0.9, "organic", ("C2H5NO2", 0.85), ("Cr2O3", 0.03), ("H2O", 0.12)),
        _m("food", 1.05, "organic", ("H2O", 0.65), ("C6H12O6", 0.25), ("C16H32O2", 0.08), ("NaCl", 0.02)),
        _m("water", 1.0, "organic", ("H2O", 1.0)),
        _m("shampoo", 1.03, "organic", ("H2O", 0.8), ("C12H25NaO4S", 0.15), ("NaCl", 0.05)),
        _m("wood", 0.6, "organic", ("C6H10O5", 1.0)),
        _m("soap", 1.1, "organic", ("C18H35NaO2", 0.85), ("H2O", 0.15)),
        _m(
            "chocolate",
            1.3,
            "organic",
            ("C12H22O11", 0.5),
            ("C55H98O6", 0.35),
            ("C2H5NO2", 0.1),
            ("H2O", 0.05),
        ),
        _m("glass", 2.5, "mixed", ("SiO2", 0.72), ("Na2O", 0.14), ("CaO", 0.1), ("MgO", 0.04)),
        _m("ceramic", 2.3, "mixed", ("SiO2", 0.6), ("Al2O3", 0.3), ("K2O", 0.05), ("CaO", 0.05)),
        _m("pcb", 1.85, "mixed", ("SiO2", 0.55), ("C18H21O3", 0.35), ("Cu", 0.1)),
        _m("battery", 2.6, "metal", ("LiCoO2", 0.35), ("C", 0.2), ("Cu", 0.15), ("Al", 0.1), ("C3H4O3", 0.2)),
        _m("aluminium", 2.7, "mixed", ("Al", 1.0)),
        _m("steel", 7.85, "metal", ("Fe", 0.98), ("C", 0.02)),
        _m("stainless_steel", 7.9, "metal", ("Fe", 0.72), ("Cr", 0.18), ("Ni", 0.1)),
        _m("cast_iron", 7.2, "metal", ("Fe", 0.95), ("C", 0.035), ("Si", 0.015)),
        _m("zinc", 7.1, "metal", ("Zn", 1.0)),
        _m("copper", 8.96, "metal", ("Cu", 1.0)),
        _m("brass", 8.5, "metal", ("Cu", 0.65), ("Zn", 0.35)),
        _m("lead", 11.35, "metal", ("Pb", 1.0)),
        _m("fuel", 0.75, "organic", ("C8H18", 1.0)),
        # Everyday mixed materials: fillers and additives push them towards green on screens.
        _m("abs_fr", 1.2, "mixed", ("C15H17N", 0.91), ("C12Br10O", 0.05), ("Sb2O3", 0.015), ("TiO2", 0.025)),
        _m("rubber_filled", 1.25, "mixed", ("C5H8", 0.75), ("CaCO3", 0.15), ("SiO2", 0.07), ("ZnO", 0.03)),
        _m("cosmetic", 1.1, "organic", ("H2O", 0.65), ("C16H32O2", 0.3), ("TiO2", 0.03), ("ZnO", 0.02)),
        _m("toothpaste", 1.4, "mixed", ("H2O", 0.3), ("C3H8O3", 0.25), ("CaCO3", 0.3), ("SiO2", 0.15)),
        _m("magazine", 1.1, "mixed", ("C6H10O5", 0.65), ("Al2Si2O5(OH)4", 0.2), ("CaCO3", 0.15)),
        _m("foam", 0.05, "organic", ("C27H36N2O10", 1.0)),
        # contraband
        _m("cocaine", 1.2, "organic", ("C17H22ClNO4", 0.85), ("C6H14O6", 0.15)),
        _m("heroin", 1.3, "organic", ("C21H23NO5", 0.8), ("CaCO3", 0.05), ("C6H12O6", 0.15)),
        _m("cannabis", 0.55, "organic", ("C6H10O5", 0.9), ("K2O", 0.03), ("CaO", 0.04), ("H2O", 0.03)),
        _m("tobacco", 0.38, "organic", ("C6H10O5", 0.85), ("K2O", 0.05), ("CaO", 0.05), ("H2O", 0.05)),
        _m("banknote", 0.95, "organic", ("C6H10O5", 0.95), ("TiO2", 0.02), ("CaCO3", 0.03)),
        _m("ivory", 1.9, "mixed", ("Ca10(PO4)6(OH)2", 0.62), ("C2H5NO2", 0.28), ("H2O", 0.1)),
        _m("keratin", 1.3, "organic", ("C2H5NO2", 0.9), ("S", 0.04), ("H2O", 0.06)),
        _m("corundum", 3.98, "mixed", ("Al2O3", 1.0)),
        _m("diamond", 3.5, "organic", ("C", 1.0)),
        _m("beryl", 2.7, "mixed", ("Be3Al2Si6O18", 1.0)),
        _m("gunpowder", 1.6, "organic", ("C6H7N3O11", 0.9), ("KNO3", 0.1)),
    )
}


@dataclass(frozen=True)
class Spectrum:
    """A dual-energy source and detector pair; ``key`` names it in the table."""

    key: str
    tube_kvp: float
    source_filter_al_mm: float
    source_filter_cu_mm: float
    low_scintillator_csi_mm: float
    inter_filter_cu_mm: float
    high_scintillator_cdwo4_mm: float


SPECTRA: dict[str, Spectrum] = {
    s.key: s
    for s in (
        Spectrum("kv140", 140, 2.0, 0.1, 0.3, 0.4, 3.0),
        Spectrum("kv160", 160, 2.5, 0.2, 0.4, 0.6, 3.0),
        Spectrum("kv180", 180, 3.0, 0.3, 0.5, 1.0, 4.0),
        Spectrum("kv300", 300, 3.0, 1.0, 0.6, 2.0, 6.0),
        Spectrum("kv450", 450, 3.0, 2.0, 0.8, 3.0, 8.0),
    )
}


def _mass_attenuation(material: Material, energies_ev: np.ndarray) -> np.ndarray:
    """Mass attenuation coefficient (cm^2/g) of ``material`` at ``energies_ev`` (needs xraydb)."""
    import xraydb

    total = np.zeros_like(energies_ev, dtype=float)
    for formula, fraction in material.components:
        total += fraction * np.asarray(xraydb.material_mu(formula, energies_ev, density=1.0))
    return total


def detector_weights(spectrum: Spectrum) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Energies (eV) and the signal weight of each energy in the low and the high channel (needs xraydb).

    Kramers photon spectrum N(E) ~ (kVp - E) / E, times filter transmissions, times the energy the
    scintillator absorbs (energy-integrating detectors).
    """
    import xraydb

    energies = np.arange(15e3, spectrum.tube_kvp * 1e3, 2e3)
    photons = (spectrum.tube_kvp * 1e3 - energies) / energies

    def transmission(formula: str, density: float, mm: float) -> np.ndarray:
        if mm <= 0:
            return np.ones_like(energies)
        mu = np.asarray(xraydb.material_mu(formula, energies, density=density))
        return np.exp(-mu * mm / 10.0)

    def absorbed(formula: str, density: float, mm: float) -> np.ndarray:
        return 1.0 - transmission(formula, density, mm)

    beam = photons * transmission("Al", 2.7, spectrum.source_filter_al_mm)
    beam *= transmission("Cu", 8.96, spectrum.source_filter_cu_mm)
    low = beam * energies * absorbed("CsI", 4.51, spectrum.low_scintillator_csi_mm)
    behind = beam * transmission("CsI", 4.51, spectrum.low_scintillator_csi_mm)
    behind *= transmission("Cu", 8.96, spectrum.inter_filter_cu_mm)
    high = behind * energies * absorbed("CdWO4", 7.9, spectrum.high_scintillator_cdwo4_mm)
    return energies, low / low.sum(), high / high.sum()


def effective_mass_attenuation(material: Material, spectrum: Spectrum) -> tuple[float, float]:
    """Detector-weighted mass attenuation (cm^2/g) in the low and high channel (needs xraydb)."""
    energies, w_low, w_high = detector_weights(spectrum)
    mu = _mass_attenuation(material, energies)
    return float((w_low * mu).sum()), float((w_high * mu).sum())


BASIS: tuple[str, str] = ("polyethylene", "copper")


def basis_fit(material: Material, energies: np.ndarray, weights: np.ndarray) -> tuple[float, float]:
    """(mm of polyethylene, mm of copper) whose mu(E) best matches 1 mm of ``material`` (needs xraydb).

    Relative least squares over the spectrum, weighted by the detector signal.
    """
    target = _mass_attenuation(material, energies) * material.density_g_cm3
    cols = [_mass_attenuation(MATERIALS[b], energies) * MATERIALS[b].density_g_cm3 for b in BASIS]
    a = np.stack(cols, 1) / target[:, None]
    sw = np.sqrt(weights)
    coef, *_ = np.linalg.lstsq(a * sw[:, None], sw, rcond=None)
    return float(coef[0]), float(coef[1])


def build_table() -> dict[str, object]:
    """Compute the whole coefficient table with xraydb."""
    spectra: dict[str, object] = {}
    for key, spectrum in SPECTRA.items():
        energies, w_low, w_high = detector_weights(spectrum)
        basis_mu = [
            _mass_attenuation(MATERIALS[b], energies) * MATERIALS[b].density_g_cm3 / 10.0 for b in BASIS
        ]
        materials: dict[str, object] = {}
        for name, material in MATERIALS.items():
            low, high = effective_mass_attenuation(material, spectrum)
            c_pe, c_cu = basis_fit(material, energies, w_low + w_high)
            materials[name] = {"mass_attenuation": [round(low, 7), round(high, 7)], "basis_mm": [c_pe, c_cu]}
        spectra[key] = {
            "energy_kev": [round(e / 1e3, 3) for e in energies],
            "weight_low": [float(w) for w in w_low],
            "weight_high": [float(w) for w in w_high],
            "basis_mu_per_mm": [[float(v) for v in mu] for mu in basis_mu],
            "materials": materials,
        }
    return {
        "units": "mass_attenuation: cm^2/g [low, high], thin sample; basis_mm: mm of (PE, Cu) per mm",
        "basis": list(BASIS),
        "density_g_cm3": {name: m.density_g_cm3 for name, m in MATERIALS.items()},
        "spectra": spectra,
    }


@functools.lru_cache(maxsize=1)
def load_table() -> dict[str, Any]:
    """The committed coefficient table (no xraydb needed)."""
    table: dict[str, Any] = json.loads(TABLE_PATH.read_text())
    return table


@functools.cache
def linear_attenuation_per_mm(material: str, spectrum: str) -> tuple[float, float]:
    """Thin-sample linear attenuation (1/mm) of ``material`` at nominal density, low and high channel.

    Raises:
        KeyError: unknown material or spectrum.
    """
    low, high = load_table()["spectra"][spectrum]["materials"][material]["mass_attenuation"]
    density = MATERIALS[material].density_g_cm3
    return low * density / 10.0, high * density / 10.0


@functools.cache
def basis_per_mm(material: str, spectrum: str) -> tuple[float, float]:
    """mm of (polyethylene, copper) equivalent to 1 mm of ``material`` for ``spectrum``."""
    c_pe, c_cu = load_table()["spectra"][spectrum]["materials"][material]["basis_mm"]
    return float(c_pe), float(c_cu)


def dual_energy_ratio(material: str, spectrum: str) -> float:
    """Thin-sample R = ln T_low / ln T_high of ``material``."""
    low, high = linear_attenuation_per_mm(material, spectrum)
    return low / high


# Basis line-integral ranges of the lookup tables (beyond: clamped, the pixel is black anyway).
BASIS_MAX_MM: tuple[float, float] = (4000.0, 300.0)
LUT_SIZE = 256


class SpectrumModel:
    """Polychromatic transmission of a spectrum's two channels as a function of the basis line integrals.

    The attenuation -ln T of each channel is tabulated on a square-root spaced grid of (B_PE, B_Cu) so a
    bilinear lookup (``cv2.remap``) gives it per pixel at the cost of one remap.
    """

    def __init__(self, spectrum: str) -> None:
        entry = load_table()["spectra"][spectrum]
        self.key = spectrum
        mu_pe, mu_cu = (np.asarray(m, np.float64) for m in entry["basis_mu_per_mm"])
        axis = np.linspace(0.0, 1.0, LUT_SIZE) ** 2
        b_pe, b_cu = axis * BASIS_MAX_MM[0], axis * BASIS_MAX_MM[1]
        e_pe = np.exp(-np.outer(b_pe, mu_pe))  # (N, E)
        e_cu = np.exp(-np.outer(b_cu, mu_cu))
        self.att: dict[str, np.ndarray] = {}
        for channel in ("low", "high"):
            w = np.asarray(entry[f"weight_{channel}"], np.float64)
            t = (e_cu * w) @ e_pe.T  # rows: B_Cu, columns: B_PE
            self.att[channel] = (-np.log(np.maximum(t, 1e-300))).astype(np.float32)

    def grid_coordinates(self, b_pe: np.ndarray, b_cu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Fractional table coordinates (x along B_PE, y along B_Cu) of basis line-integral images."""
        import cv2

        # Beyond the table the lookup replicates its border, so only negative sums need clamping.
        x = cv2.sqrt(np.maximum(b_pe, np.float32(0.0)) * np.float32((LUT_SIZE - 1) ** 2 / BASIS_MAX_MM[0]))
        y = cv2.sqrt(np.maximum(b_cu, np.float32(0.0)) * np.float32((LUT_SIZE - 1) ** 2 / BASIS_MAX_MM[1]))
        return x, y

    def attenuation(self, b_pe: np.ndarray, b_cu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(-ln T_low, -ln T_high) for basis line-integral images (float32, any shape)."""
        import cv2

        x, y = self.grid_coordinates(b_pe, b_cu)
        low = cv2.remap(self.att["low"], x, y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        high = cv2.remap(self.att["high"], x, y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        return low, high

    def material_curve(self, material: str, thickness_mm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(-ln T_low, -ln T_high) of ``material`` alone at each thickness (exact sums, no table)."""
        entry = load_table()["spectra"][self.key]
        c_pe, c_cu = basis_per_mm(material, self.key)
        mu = c_pe * np.asarray(entry["basis_mu_per_mm"][0]) + c_cu * np.asarray(entry["basis_mu_per_mm"][1])
        path = np.exp(-np.outer(np.asarray(thickness_mm, np.float64), mu))
        out = []
        for channel in ("low", "high"):
            w = np.asarray(entry[f"weight_{channel}"], np.float64)
            out.append(-np.log(np.maximum(path @ w, 1e-300)))
        return out[0], out[1]


@functools.cache
def spectrum_model(spectrum: str) -> SpectrumModel:
    """The cached ``SpectrumModel`` of ``spectrum``."""
    return SpectrumModel(spectrum)


def main(argv: list[str] | None = None) -> None:
    """``python -m vision.physics.materials --rebuild`` rewrites the table; without it, prints R values."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rebuild", action="store_true", help="recompute attenuation.json with xraydb")
    args = parser.parse_args(argv)
    if args.rebuild:
        TABLE_PATH.write_text(json.dumps(build_table(), indent=1, sort_keys=True) + "\n")
        load_table.cache_clear()
        linear_attenuation_per_mm.cache_clear()
        basis_per_mm.cache_clear()
        print(f"wrote {TABLE_PATH}")
    for key in SPECTRA:
        model = spectrum_model(key)
        ratios = []
        for m in MATERIALS:
            low, high = model.material_curve(m, np.array([1.0]))
            ratios.append((float(low[0] / high[0]), m))
        print(key, " ".join(f"{m}={r:.2f}" for r, m in sorted(ratios)))


if __name__ == "__main__":
    main()
