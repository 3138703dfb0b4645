"""Video quality and rate measurements: PSNR, SSIM/MS-SSIM, bpp, BD-rate (pure functions)."""
