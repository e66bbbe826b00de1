"""TinyADC's saving per ImageNet network on hw_configs/tinyadc.toml, next to the paper's headline.

For AlexNet, ResNet-18, VGG-16 and MobileNet-V2 (traces/), at n = 64, 32, 16, 8 non-zero weights per
128-row column segment: the ADC bits, the ADC power reduction (ADC energy at equal cycles), the ADC area
reduction (ADC units of the crossbars each network occupies), the whole-network energy reduction, and the
chip's peak power and area (chip_budget) with every ADC at the pruned bits. Two ADC scaling laws: the
config's exponential law (x2 per bit, hwcomponents-library) and PUMA's linear law as the lower bracket.
The baseline is the same chip without pruning (differential weights, lossless 8-bit ADC with the flip).
Paper (TinyADC, DATE 2021 abstract): 3.5x power and 2.9x area reduction vs prior pruning on ImageNet.
Prints a table and writes benchmarks/results/bench_reram_tinyadc.json.

    python benchmarks/bench_reram_tinyadc.py
"""
from __future__ import annotations

import json
import platform
import time
from pathlib import Path

from sim.analytical.tinyadc import tinyadc_saving
from sim.energy.area import chip_budget
from sim.hardware.load import load_hardware
from sim.workload.load import load_trace

ROOT = Path(__file__).resolve().parents[1]
NETWORKS = ("alexnet", "resnet18", "vgg16", "mobilenet_v2")
NONZERO = (64, 32, 16, 8)
PAPER = {"power_reduction": 3.5, "area_reduction": 2.9}


def with_laws(hw, law: str):
    adc = hw.reram.adc.model_copy(update={"energy_law": law, "area_law": law})
    return hw.model_copy(update={"reram": hw.reram.model_copy(update={"adc": adc})})


def main() -> None:
    base = load_hardware(ROOT / "hw_configs" / "tinyadc.toml")
    rows = []
    start = time.perf_counter()
    print(f"{'law':<12} {'network':<13} {'n':>3} {'bits':>5} {'ADC power x':>11} {'ADC area x':>10} "
          f"{'energy x':>8} {'chip power x':>12} {'chip area x':>11}")
    for law in ("exponential", "linear"):
        hw = with_laws(base, law)
        unpruned = chip_budget(hw, adc_bits=8)
        for network in NETWORKS:
            trace = load_trace(ROOT / "traces" / f"{network}.csv")
            for n in NONZERO:
                saving = tinyadc_saving(trace, hw, n)
                bits = max(saving.pruned.adc_bits)
                chip = chip_budget(hw, adc_bits=bits)
                row = {"law": law, "network": network, "nonzero": n, "adc_bits": bits,
                       "adc_bits_baseline": max(saving.baseline.adc_bits),
                       "adc_power_reduction": saving.adc_power_reduction,
                       "adc_area_reduction": saving.adc_area_reduction,
                       "energy_reduction": saving.energy_reduction,
                       "chip_power_reduction": unpruned.chip_mw / chip.chip_mw,
                       "chip_area_reduction": unpruned.chip_mm2 / chip.chip_mm2}
                rows.append(row)
                print(f"{law:<12} {network:<13} {n:>3} {bits:>5} {row['adc_power_reduction']:>11.2f} "
                      f"{row['adc_area_reduction']:>10.2f} {row['energy_reduction']:>8.2f} "
                      f"{row['chip_power_reduction']:>12.2f} {row['chip_area_reduction']:>11.2f}")
    wall = time.perf_counter() - start
    print(f"paper: {PAPER['power_reduction']}x power, {PAPER['area_reduction']}x area; {wall:.1f} s (analytical)")
    out = ROOT / "benchmarks" / "results" / "bench_reram_tinyadc.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": platform.platform(), "paper": PAPER, "rows": rows, "wall_s": wall},
                              indent=1))
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
