"""lmms-eval's edge: every call the plugin makes beyond lmms-eval's public task API (`lmms_compat`) and every file of
lmms-eval's it reads (`lmms_outputs`). Both import nothing of ours, so any stage may use them; an lmms-eval upgrade is
these two modules' work."""
