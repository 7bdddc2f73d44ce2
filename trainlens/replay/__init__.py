"""The torch side of trainlens (the ``replay`` extra): only modules here import torch."""
