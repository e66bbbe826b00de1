"""The README's two commands stay true: CI runs exactly the README's test command."""
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _bash_blocks(text: str) -> list[str]:
    blocks, inside, current = [], False, []
    for line in text.splitlines():
        if line.startswith("```bash"):
            inside, current = True, []
        elif line.startswith("```") and inside:
            inside = False
            blocks.append("\n".join(current))
        elif inside:
            current.append(line)
    return blocks


def test_ci_runs_the_readme_test_command():
    readme_test_command = _bash_blocks((ROOT / "README.md").read_text())[1].strip()
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert readme_test_command in ci_lines


def test_readme_example_names_shipped_files():
    example = _bash_blocks((ROOT / "README.md").read_text())[0]
    for token in example.split():
        if token.startswith(("hw_configs/", "traces/")):
            assert (ROOT / token).is_file(), token
