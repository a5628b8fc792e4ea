"""Static files of the operator console (HTML, CSS, JS, message catalogues), served by ``routers.console``."""
