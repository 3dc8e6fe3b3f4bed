"""Configuration-averaged SOAP descriptors for structure selection (GAP-RSS, Methods Eqs. 1–4).

The expansion coefficients of every atom's neighbour density are averaged over the cell *before* the power spectrum
is formed (quippy ``average=T``, dscribe ``average='inner'``, not the mean of atomic power spectra); rows are
normalised, so the kernel is ``k_AB = (p̄_A · p̄_B)^ζ``. Backends: ``'numpy'`` (default; dscribe's GTO descriptor
to 1e-10, each atom pair evaluated once, :mod:`aiida_gaprss.rss.soap_gto`), ``'dscribe'`` and ``'quippy'``
(its always-zero last component dropped). Off-diagonal (n, n′) and cross-species entries of the dscribe/numpy
vectors are weighted by √2 so that a dot product is the full sum of Eq. 4, as quippy's is. The default atom width
is 0.5 Å (:data:`DEFAULT_SIGMA`), not the paper's 0.0875 Å (:data:`PAPER_SIGMA`, available): why, and the
backends' costs and agreement, in docs/science.md ("Selection SOAP width", "SOAP library").
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import warnings
from collections.abc import Callable, Sequence

import numpy as np

from aiida_gaprss.common import checks

logger = logging.getLogger(__name__)

__all__ = (
    'BACKENDS',
    'DEFAULT_BACKEND',
    'DEFAULT_SIGMA',
    'PAPER_SIGMA',
    'SoapParameters',
    'averaged_soap',
    'soap_species',
)

#: Atom width (Å) used by default (see module docstring).
DEFAULT_SIGMA = 0.5
#: The value printed in the paper's Methods for the selection SOAP.
PAPER_SIGMA = 0.0875
BACKENDS = ('numpy', 'dscribe', 'quippy')
#: The backend used when none is named: the fastest (``benchmarks/soap_backends.py``).
DEFAULT_BACKEND = 'numpy'
#: quippy's smooth cut-off width (Å), its default.
QUIPPY_TRANSITION_WIDTH = 0.5


class SoapParameters:
    """Validated parameters of the configuration-averaged SOAP (picklable, sent to the worker processes)."""

    def __init__(self, *, n_max: int, l_max: int, sigma: float, r_cut: float, species: Sequence[str], backend: str):
        for field, value in (('n_max', n_max), ('l_max', l_max)):
            checks.positive_integer(value, field)
        if l_max > 20:
            raise ValueError(f'l_max must be <= 20, got {l_max}')
        for field, value in (('sigma', sigma), ('r_cut', r_cut)):
            if not isinstance(value, int | float | np.floating) or not math.isfinite(value) or value <= 0:
                raise ValueError(f'{field} must be a positive number (Å), got {value!r}')
        if backend not in BACKENDS:
            raise ValueError(f'backend must be one of {BACKENDS}, got {backend!r}')
        if not species:
            raise ValueError('species must not be empty')
        from ase.data import atomic_numbers

        for symbol in species:
            if symbol not in atomic_numbers or symbol == 'X':
                raise ValueError(f'species contains an unknown element {symbol!r}')
        if len(set(species)) != len(species):
            raise ValueError(f'species has duplicates: {list(species)}')
        if backend in ('dscribe', 'numpy') and r_cut < 1.0:
            raise ValueError(f'r_cut must be >= 1 Å for the {backend} backend, got {r_cut}')
        self.n_max = int(n_max)
        self.l_max = int(l_max)
        self.sigma = float(sigma)
        self.r_cut = float(r_cut)
        self.species = sorted(species, key=lambda s: atomic_numbers[s])
        self.backend = backend

    def as_dict(self) -> dict:
        """Plain dictionary of the parameters (for provenance)."""
        return {
            'n_max': self.n_max,
            'l_max': self.l_max,
            'sigma': self.sigma,
            'r_cut': self.r_cut,
            'species': list(self.species),
            'backend': self.backend,
        }

    def quippy_string(self) -> str:
        """The quippy descriptor string, e.g. ``soap n_max=12 l_max=12 atom_sigma=0.5 cutoff=10.5 ... average=T``."""
        from ase.data import atomic_numbers

        zs = ' '.join(str(atomic_numbers[s]) for s in self.species)
        return (
            f'soap n_max={self.n_max} l_max={self.l_max} atom_sigma={self.sigma} cutoff={self.r_cut} '
            f'cutoff_transition_width={QUIPPY_TRANSITION_WIDTH} central_weight=1.0 average=T '
            f'n_species={len(self.species)} species_Z={{{zs}}}'
        )


def soap_species(atoms_list: Sequence) -> list[str]:
    """Sorted (by atomic number) list of the chemical symbols present in ``atoms_list``."""
    from ase.data import atomic_numbers

    symbols = set()
    for atoms in atoms_list:
        symbols.update(atoms.get_chemical_symbols())
    return sorted(symbols, key=lambda s: atomic_numbers[s])


def _dscribe_pair_weights(n_max: int, l_max: int, n_species: int) -> np.ndarray:
    """√2 weights reproducing dscribe 2.1's power-spectrum layout (``getPD`` in ``soapGTO.cpp``).

    Layout: for species ``j <= j'``, for ``l``, then ``(n, n')`` with ``n <= n'`` if ``j == j'`` and all pairs
    otherwise. Entries standing for two terms of the full sum (``n != n'`` or ``j != j'``) get √2.
    """
    weights = []
    for j in range(n_species):
        for jd in range(j, n_species):
            for _ in range(l_max + 1):
                for n in range(n_max):
                    for nd in range(n if j == jd else 0, n_max):
                        weights.append(1.0 if (j == jd and n == nd) else math.sqrt(2.0))
    return np.asarray(weights)


# --------------------------------------------------------------------------------------------------------------------
# per-process calculators


_WORKER: dict = {}


def _make_calculator(params: SoapParameters):
    if params.backend == 'numpy':
        from .soap_gto import GtoSoap

        calc = GtoSoap(
            species=params.species, r_cut=params.r_cut, n_max=params.n_max, l_max=params.l_max, sigma=params.sigma
        )
        return {'numpy': calc, 'weights': _dscribe_pair_weights(params.n_max, params.l_max, len(params.species))}
    if params.backend == 'dscribe':
        from dscribe.descriptors import SOAP

        common = {
            'species': params.species,
            'r_cut': params.r_cut,
            'n_max': params.n_max,
            'l_max': params.l_max,
            'sigma': params.sigma,
            'rbf': 'gto',
            'average': 'inner',
            'sparse': False,
        }

        def make(periodic: bool):
            with warnings.catch_warnings():
                # dscribe orthonormalises its GTOs with sqrtm(inv(S)) and warns about the conditioning of S at
                # n_max = 12; the resulting basis is orthonormal to 2e-7 at r_cut 10.5 Å (checked numerically).
                warnings.simplefilter('ignore')
                return SOAP(periodic=periodic, **common)

        periodic = make(True)
        weights = _dscribe_pair_weights(params.n_max, params.l_max, len(params.species))
        if weights.size != periodic.get_number_of_features():
            raise RuntimeError(
                f'dscribe feature layout changed: {periodic.get_number_of_features()} features, expected {weights.size}'
            )
        # the non-periodic calculator (dimers, clusters) costs ~0.3 s to set up: made on first use
        return {'periodic': periodic, 'finite': None, 'make': make, 'weights': weights}
    from quippy.descriptors import Descriptor

    return {'quippy': Descriptor(params.quippy_string())}


def _worker_init(params: SoapParameters) -> None:
    # one BLAS thread per worker: the 'numpy' backend's small matrix products would otherwise start a thread per
    # core in every worker process and the workers would compete for the same cores
    from threadpoolctl import threadpool_limits

    _WORKER['blas'] = threadpool_limits(limits=1)
    _WORKER['params'] = params
    _WORKER['calc'] = _make_calculator(params)


def _raw_rows(atoms_chunk: Sequence, params: SoapParameters, calc: dict) -> np.ndarray:
    """Unnormalised averaged SOAP rows of a chunk of cells."""
    if params.backend == 'numpy':
        return calc['numpy'].create(list(atoms_chunk)) * calc['weights']
    if params.backend == 'dscribe':
        rows = np.empty((len(atoms_chunk), calc['weights'].size))
        periodic_mask = np.array([bool(np.any(a.pbc)) for a in atoms_chunk])
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')  # dscribe's sqrtm(inv(S)) round-off warning at large n_max
            for mask, key in ((periodic_mask, 'periodic'), (~periodic_mask, 'finite')):
                index = np.flatnonzero(mask)
                if index.size == 0:
                    continue
                if calc[key] is None:
                    calc[key] = calc['make'](False)
                block = calc[key].create([atoms_chunk[i] for i in index], n_jobs=1)
                rows[index] = np.asarray(block).reshape(index.size, -1)
        rows *= calc['weights']
        return rows
    descriptor = calc['quippy']
    out = []
    for atoms in atoms_chunk:
        data = np.asarray(descriptor.calc(atoms)['data'])
        out.append(data[0, :-1])  # drop quippy's trailing always-zero component
    return np.asarray(out)


def _worker_run(chunk: tuple[int, list]) -> tuple[int, np.ndarray]:
    start, atoms_chunk = chunk
    return start, _raw_rows(atoms_chunk, _WORKER['params'], _WORKER['calc'])


def _validate_atoms(atoms_list: Sequence, species: Sequence[str]) -> None:
    allowed = set(species)
    for index, atoms in enumerate(atoms_list):
        if len(atoms) == 0:
            raise ValueError(f'atoms_list[{index}] has no atoms')
        if not np.isfinite(atoms.positions).all():
            raise ValueError(f'atoms_list[{index}] has non-finite positions')
        if np.any(atoms.pbc):
            if not np.all(atoms.pbc):
                raise ValueError(f'atoms_list[{index}] is partly periodic (pbc={atoms.pbc.tolist()}); use all or none')
            if abs(atoms.cell.volume) < 1e-8:
                raise ValueError(f'atoms_list[{index}] is periodic but its cell has zero volume')
        extra = set(atoms.get_chemical_symbols()) - allowed
        if extra:
            raise ValueError(f'atoms_list[{index}] has species {sorted(extra)} not in species={list(species)}')


def averaged_soap(
    atoms_list: Sequence,
    *,
    n_max: int = 12,
    l_max: int = 12,
    sigma: float = DEFAULT_SIGMA,
    r_cut: float = 10.5,
    species: Sequence[str] | None = None,
    backend: str = DEFAULT_BACKEND,
    processes: int = 2,
    chunk_size: int | None = None,
    progress: Callable[[int], None] | None = None,
    normalise: bool = True,
) -> np.ndarray:
    """Configuration-averaged SOAP vectors of a list of cells, one normalised row per cell.

    Parameters
    ----------
    atoms_list : sequence of ase.Atoms
        Fully periodic cells or fully non-periodic clusters (e.g. dimers).
    n_max, l_max : int
        Radial and angular expansion orders (selection SOAP in the paper: 12, 12).
    sigma : float
        Gaussian atom width in Å (default :data:`DEFAULT_SIGMA`; the paper printed 0.0875 — see docs/science.md).
    r_cut : float
        Cut-off radius in Å (paper: 10.5).
    species : list of str, optional
        Elements the descriptor covers; default: all elements in ``atoms_list``. Pass it explicitly to compare
        descriptors of different sets.
    backend : {'numpy', 'dscribe', 'quippy'}
        'numpy' (default) and 'dscribe' give the same numbers (see the module docstring).
    processes : int
        Worker processes (chunks of cells, results re-assembled in input order: deterministic). 1 = in-process.
    chunk_size : int, optional
        Cells per task; default splits the list into about 8 chunks per process (at most 250 cells each).
    progress : callable, optional
        Called with the number of cells finished after each chunk (e.g. ``click`` progress bar ``update``).
    normalise : bool
        Normalise each row to unit Euclidean length (default True).

    Returns
    -------
    (N, D) float64 ndarray
        One species: ``D = (l_max+1) n_max (n_max+1) / 2`` (1014 for 12/12); S species:
        ``(l_max+1) [S n_max (n_max+1)/2 + S(S-1)/2 n_max²]``.
    """
    atoms_list = list(atoms_list)
    if not atoms_list:
        raise ValueError('atoms_list is empty')
    species = list(species) if species is not None else soap_species(atoms_list)
    params = SoapParameters(n_max=n_max, l_max=l_max, sigma=sigma, r_cut=r_cut, species=species, backend=backend)
    _validate_atoms(atoms_list, params.species)
    checks.positive_integer(processes, 'processes')
    n = len(atoms_list)
    if chunk_size is None:
        chunk_size = max(1, min(250, math.ceil(n / (8 * processes))))
    else:
        checks.positive_integer(chunk_size, 'chunk_size')
    chunks = [(start, atoms_list[start : start + chunk_size]) for start in range(0, n, chunk_size)]
    logger.info('averaged SOAP (%s) of %d cells, %d chunks, %d process(es)', backend, n, len(chunks), processes)

    parts: dict[int, np.ndarray] = {}
    if processes == 1 or len(chunks) == 1:
        from threadpoolctl import threadpool_limits

        # one BLAS thread: the matrices are small, and idle OpenBLAS threads spin (measured: up to 10x the CPU time)
        with threadpool_limits(limits=1):
            calc = _make_calculator(params)
            for start, chunk in chunks:
                parts[start] = _raw_rows(chunk, params, calc)
                if progress is not None:
                    progress(len(chunk))
    else:
        method = 'fork' if 'fork' in multiprocessing.get_all_start_methods() else 'spawn'
        context = multiprocessing.get_context(method)
        with context.Pool(processes=min(processes, len(chunks)), initializer=_worker_init, initargs=(params,)) as pool:
            for start, rows in pool.imap_unordered(_worker_run, chunks):
                parts[start] = rows
                if progress is not None:
                    progress(rows.shape[0])
    result = np.concatenate([parts[start] for start, _ in chunks], axis=0)
    if not np.isfinite(result).all():
        bad = np.flatnonzero(~np.isfinite(result).all(axis=1))
        raise ValueError(f'non-finite SOAP for structure index(es) {bad[:10].tolist()}')
    if normalise:
        norms = np.linalg.norm(result, axis=1)
        zero = np.flatnonzero(norms <= 1e-300)
        if zero.size:
            raise ValueError(f'zero SOAP vector for structure index(es) {zero[:10].tolist()}')
        result /= norms[:, None]
    return result
