"""The live desktop app (optional extra: pip install 'myotwitch[gui]'). Nothing outside this
package imports Qt, so the headless recorder installs and runs without it."""
