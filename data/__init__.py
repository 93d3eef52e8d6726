"""Shipped data (advice rules, example recordings, protocol vectors), installed as the package
``myotwitch.data`` so it is found with importlib.resources wherever the wheel lands."""
