"""webrtcvad comes from the ``webrtcvad-wheels`` distribution; the stock hook asks for ``webrtcvad``'s
metadata, which does not exist, and stops the build. The module needs no data files."""

from PyInstaller.utils.hooks import copy_metadata

datas = copy_metadata("webrtcvad-wheels")
