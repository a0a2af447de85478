/// A 2048-bit RSA public key (PKIX, base64) made for these tests with openssl, and its
/// signatures over {"a":1}: RSA-PSS (SHA-256, salt 32) and PKCS#1 v1.5 (SHA-256).
const RSA_PUBLIC: &[&str] = &[
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAj/GX3iqO3WOI+LGpf/JwzRmXrWe1hOTPPvMEhhb5dDqSII78Ut67",
    "a0MCA7CKzJc+UMjoEI/Seit6ZNiuRxc24EtkRORLmNUxvXOeXObNamo4Zlk6YGgZ1Qn4DxBgLowSHhvzaBjHqWKRTEzVG8q2",
    "vmVn8Aab/gI8KNCo0NgaVLbnURik+nzlXJL+3KgemjI5aVR7ZpidfRZhTaB6wWazeiQx94C8FeEKF8me4VvPnK1yMEnTRfJa",
    "YPhsyucjMYwuiHkIVCs3qk39NSoVpD+6YWMNQrnUcwc0V7T3F0aR+abEh5xzZHit+QeKd7wB78CfMJZHGsO4+qRgmzZK2RAG",
    "xQIDAQAB",
];
const RSA_PSS_SIG: &[&str] = &[
    "YulN1A+UIcDTjQJZ6Tp7kpPs44x6qPXYXpAyeLFlfsePcACXMic6loWpNxkglAjjisuk5pRVUZqu3L565tuyaHiYyLz2YVpr",
    "Mf6wRO1u73gjiGZnOo2aab9NPvx9s+kXSa44iH/tsEchrcA8nYMb12TIeFmsKvUq8FZLWwiDrQWwIpySdw3Wl1a/4DZpGNfV",
    "kbLVQElQn3xyYq3V5vAlFKFbvUmqKMgt4u7JVA2Wvfl2LB6Vxty7R+QHyo8DkJ+orWD7Du1M7EWly2TYVYECdK4TVZkCv6pe",
    "SRlRLBs9EVC5CqWC7ALR+YbfScxWdoW70EcqpMf9dmjKDGEGiCJJZQ==",
];
const RSA_PKCS1_SIG: &[&str] = &[
    "KUSz6zvLUsEABHRZ1MiyuZzIUPP+qLZ84ogkdDIbaVM7/R3Ef8noC+P7T78C8V5WUO3G2X2FdvoTOJp4ce7LfKatzwho/0y0",
    "1OD59kCRn+JVTu22bSr0U9Zuf6KqANO78aVAySpWQpPeubv6d4ww9csILQH6Po4kghA0AUYeEg+xhTHQMfGiAuGgsFlW/ZeR",
    "ptbX7IGm86G+q64y4cFqkg6KgwmL3MK86/YlW256TpXo7aJkKuppB/ppS+BrkRhsBPyMayTPmrE4WIMGwmMCXnuQiFAFPoUV",
    "SA4q8VXI2OUQKBhb2gHqxLiAIMmKu9ABqMkFhmAAWHdKGg1xrPuO4w==",
];
