"""sample-st: the Pylon sample packaged with setuptools."""
