"""Every page module the registry lists; importing one registers its routes."""

from hms_app import modules

modules.load("pages")
