
import {strict as assert} from 'node:assert'
import {inflateSync} from 'node:zlib'

import {MsgpackError, type MsgpackLimits, parseMsgpack} from '../../src/formats/msgpack.js'
import {isMsgpackMap} from '../../src/formats/oversized.js'
import {parsePickle} from '../../src/formats/pickle.js'
import {flaskFixtures, plain} from '../support/ruby-python-fixtures.js'

const {cases} = flaskFixtures()
const hex = (text: string): Buffer => Buffer.from(text.replaceAll(/\s/g, ''), 'hex')

function throwsMsgpack(input: Uint8Array, limit: boolean, message?: RegExp, limits?: MsgpackLimits): void {
  assert.throws(() => parseMsgpack(input, limits), (error: unknown) => {
    assert.ok(error instanceof MsgpackError, `expected MsgpackError, got ${String(error)}`)
    assert.equal(error.limit, limit, `limit flag of "${error.message}"`)
    if (message) assert.match(error.message, message)
    return true
  })
}

/*
 * Flask-Session ≥ 0.7 stores `msgspec.msgpack.encode(dict(session))`; for plain dicts that is what
 * msgpack-python writes. Generated with Debian bookworm's python3-msgpack 1.0.3 from the session
 * dicts of flask.json (the pickles Flask-Session 0.3.2 wrote), each name once:
 *
 *   d = pickle.loads(base64.b64decode(c['valueBase64']))
 *   if 'big' in d: d['big'] = 2**64 - 1          # msgpack (and msgspec) cannot hold 2**70
 *   if 'roles' in d: d['roles'] = list(d['roles'])
 *   packed = msgpack.packb(d, datetime=True)      # the tz-aware datetime: timestamp ext -1
 *   [name, len(packed) > 2000, base64(zlib.compress(packed, 9) if len(packed) > 2000 else packed)]
 */
const FLASK_MSGPACK: Array<[string, boolean, string]> = [
  ['login-42', false, 'hKpfcGVybWFuZW50w6hfdXNlcl9pZKI0MqZfZnJlc2jDo19pZNmAY2Y0ZmMzZjMyNDhjMmM3MDA3Y2ZmMmI0YTExODA0NTg0MDg5MWQ3YjYxM2VhZTY1NGMxMDA3M2FiOGFmMDFiYjRkOGZhYzZjZDc0NzAwM2IwY2ZhN2NlZDZiYjlkNTU4NDIyZWQ3ZDBmNTNjMDIwYjUzZDExZWE2YzI4MWRmYjg='],
  ['login-42-remember', false, 'hKpfcGVybWFuZW50w6hfdXNlcl9pZKI0MqZfZnJlc2jDo19pZNmAY2Y0ZmMzZjMyNDhjMmM3MDA3Y2ZmMmI0YTExODA0NTg0MDg5MWQ3YjYxM2VhZTY1NGMxMDA3M2FiOGFmMDFiYjRkOGZhYzZjZDc0NzAwM2IwY2ZhN2NlZDZiYjlkNTU4NDIyZWQ3ZDBmNTNjMDIwYjUzZDExZWE2YzI4MWRmYjg='],
  ['login-42-cart', false, 'hapfcGVybWFuZW50w6RjYXJ0nIKjc2t1pVNLVS0wo3F0eQGCo3NrdaVTS1UtMaNxdHkCgqNza3WlU0tVLTKjcXR5A4Kjc2t1pVNLVS0zo3F0eQSCo3NrdaVTS1UtNKNxdHkFgqNza3WlU0tVLTWjcXR5AYKjc2t1pVNLVS02o3F0eQKCo3NrdaVTS1UtN6NxdHkDgqNza3WlU0tVLTijcXR5BIKjc2t1pVNLVS05o3F0eQWCo3NrdaZTS1UtMTCjcXR5AYKjc2t1plNLVS0xMaNxdHkCqF91c2VyX2lkojQypl9mcmVzaMOjX2lk2YBjZjRmYzNmMzI0OGMyYzcwMDdjZmYyYjRhMTE4MDQ1ODQwODkxZDdiNjEzZWFlNjU0YzEwMDczYWI4YWYwMWJiNGQ4ZmFjNmNkNzQ3MDAzYjBjZmE3Y2VkNmJiOWQ1NTg0MjJlZDdkMGY1M2MwMjBiNTNkMTFlYTZjMjgxZGZiOA=='],
  ['login-42-big', true, 'eNpl3EvKYGlatWE8tR2JkHut9zgGm2K7iCP+/ChaVTbsieA8xPKE03AUgoMx08wkg30190t8D6sVd3yNuP7xP3/1119+/Zcf/urLX/32v/7l04df//Z//vif/uF3v/n/f/uvf/anf/4n3/3ub377d7/3y/fzw/fv//KdH77/4Jfv/vD9h798jx++/+iX7/m6t1739uveed27v9z7t//b883AHx++WfjjwzcTf3z4ZuOPD+N9dL6PrvfR/T563kffS/NemvfSvJfmvTTvpXkvzXtp3kvzXpr30r6X9r2076V9L+17ad9L+17a99K+l/a9dLyXjvfS8V463kvHe+l4Lx3vpeO9dLyXjvfS+V4630vne+l8L53vpfO9dL6XzvfS+V4630vXe+l6L13vpeu9dL2XrvfS9V663kvXe+l6L93vpfu9dL+X7vfS/V6630v3e+l+L93vpfu99LyXnvfS81563kvPe+l5Lz3vpee99LyXnvfS+15630vve+l9L73vpfe99L6X3vfS+156v1n67z/+zf/N1J9evtn608s3Y396+WbtTy+Dy5PLi8uby4fLbH7Y/LD5YfPD5ofND5sfNj9sftj8sDlsDpvD5rA5bA6bw+awOWwOm8vmsrlsLpvL5rK5bC6by+ayebB5sHmwebB5sHmwebB5sHmwebB5snmyebJ5snmyebJ5snmyebJ5snmxebF5sXmxebF5sXmxebF5sXmxebN5s3mzebN5s3mzebN5s3mzebP5sPmw+bD5sPmw+bD5sPmw+bD5sPmy+bL5svmy+bL5svmy+bL5spkOhg6GDoYOhg6GDoYOhg6GDoYOhg6GDoYOhg6GDoYOhg6GDoYOhg6GDoYOhg6GDoYOhg6GDoYOhg6GDoYOhg6GDoYOhg6GDoYOhg6GDoYOhg6GDoYOhg6GDoYOhg6GDoYOhg6GDoYOhg6GDoYOhg6GDoYOhg6GDoYOhg6GDoYOhg6GDoYOhg6GDoYOhg6GDoYOhg6GDoYOhg6GDoYOhg6GDoYOhg6GDoYOhg6GDoYOhg6GDoYOhg6GDoYOhg6GDoYOhg6GDoYOhg6WDpYOlg6WDpYOlg6WDpYOlg6WDpYOlg6WDpYOlg6WDpYOlg6WDpYOlg6WDpYOlg6WDpYOlg6WDpYOlg6WDpYOlg6WDpYOlg6WDpYOlg6WDpYOlg6WDpYOlg6WDpYOlg6WDpYOlg6WDpYOlg6WDpYOlg6WDpYOlg6WDpYOlg6WDpYOlg6WDpYOlg6WDpYOlg6WDpYOlg6WDpYOlg6WDpYOlg6WDpYOlg6WDpYOlg6WDpYOlg6WDpYOlg6WDpYOlg6WDpYOlg6WDg46OOjgoIODDg46OOjgoIODDg46OOjgoIODDg46OOjgoIODDg46OOjgoIODDg46OOjgoIODDg46OOjgoIODDg46OOjgoIODDg46OOjgoIODDg46OOjgoIODDg46OOjgoIODDg46OOjgoIODDg46OOjgoIODDg46OOjgoIODDg46OOjgoIODDg46OOjgoIODDg46OOjgoIODDg46OOjgoIODDg46OOjgoIODDg46OOjgoIODDg46OOjgoIODDg46OOjgoIODDg46OOjgoIODDg46OOjgoIODDg46OOjgoIODDk46OOngpIOTDk46OOngpIOTDk46OOngpIOTDk46OOngpIOTDk46OOngpIOTDk46OOngpIOTDk46OOngpIOTDk46OOngpIOTDk46OOngpIOTDk46OOngpIOTDk46OOngpIOTDk46OOngpIOTDk46OOngpIOTDk46OOngpIOTDk46OOngpIOTDk46OOngpIOTDk46OOngpIOTDk46OOngpIOTDk46OOngpIOTDk46OOngpIOTDk46OOngpIOTDk46OOngpIOTDk46OOngpIOTDk46OOngpIOTDk46OOngpIOTDi46uOjgooOLDi46uOjgooOLDi46uOjgooOLDi46uOjgooOLDi46uOjgooOLDi46uOjgooOLDi46uOjgooOLDi46uOjgooOLDi46uOjgooOLDi46uOjgooOLDi46uOjgooOLDi46uOjgooOLDi46uOjgooOLDi46uOjgooOLDi46uOjgooOLDi46uOjgooOLDi46uOjgooOLDi46uOjgooOLDi46uOjgooOLDi46uOjgooOLDi46uOjgooOLDi46uOjgooOLDi46uOjgooOLDi46uOjgooOLDi46uOjgooOLDm46uOngpoObDm46uOngpoObDm46uOngpoObDm46uOngpoObDm46uOngpoObDm46uOngpoObDm46uOngpoObDm46uOngpoObDm46uOngpoObDm46uOngpoObDm46uOngpoObDm46uOngpoObDm46uOngpoObDm46uOngpoObDm46uOngpoObDm46uOngpoObDm46uOngpoObDm46uOngpoObDm46uOngpoObDm46uOngpoObDm46uOngpoObDm46uOngpoObDm46uOngpoObDm46uOngpoObDm46uOngpoObDh46eOjgoYOHDh46eOjgoYOHDh46eOjgoYOHDh46eOjgoYOHDh46eOjgoYOHDh46eOjgoYOHDh46eOjgoYOHDh46eOjgoYOHDh46eOjgoYOHDh46eOjgoYOHDh46eOjgoYOHDh46eOjgoYOHDh46eOjgoYOHDh46eOjgoYOHDh46eOjgoYOHDh46eOjgoYOHDh46eOjgoYOHDh46eOjgoYOHDh46eOjgoYOHDh46eOjgoYOHDh46eOjgoYOHDh46eOjgoYOHDh46eOjgoYOHDh46eOjgoYOHDh46eOjgoYOHDl46eOngpYOXDl46eOngpYOXDl46eOngpYOXDl46eOngpYOXDl46eOngpYOXDl46eOngpYOXDl46eOngpYOXDl46eOngpYOXDl46eOngpYOXDl46eOngpYOXDl46eOngpYOXDl46eOngpYOXDl46eOngpYOXDl46eOngpYOXDl46eOngpYOXDl46eOngpYOXDl46eOngpYOXDl46eOngpYOXDl46eOngpYOXDl46eOngpYOXDl46eOngpYOXDl46eOngpYOXDl46eOngpYOXDl46eOngpYOXDl46eOngpYP32w7+x0//j/6b0T8/fbP656dvZv/89M3un5+G56fnl+e354/nXf+4/nH94/rH9Y/rH9c/rn9c/7j+cX1cH9fH9XF9XB/Xx/VxfVwf19f1dX1dX9fX9XV9XV/X1/V1/XD9cP1w/XD9cP1w/XD9cP1w/XD9dP10/XT9dP10/XT9dP10/XT9dP1y/XL9cv1y/XL9cv1y/XL9cv1y/Xb9dv12/Xb9dv12/Xb9dv12/Xb9cf1x/XH9cf1x/XH9cf1x/XH9cf11/XX9df11/XX9df11/XX9db2tfWztY2sfW/vY2sfWPrb2sbWPrX1s7WNrH1v72NrH1j629rG1j619bO1jax9b+9jax9Y+tvaxtY+tfWztY2sfW/vY2sfWPrb2sbWPrX1s7WNrH1v72NrH1j629rG1j619bO1jax9b+9jax9Y+tvaxtY+tfWztY2sfW/vY2sfWPrb2sbWPrX1s7WNrH1v72NrH1j629rG1j619bO1jax9b+9jax9Y+tvaxtY+tfWztY2sfW/vY2sfWPrb2sbWPrX1s7WNrH1v72NrH1j629rG1j619bO1jax9b+9jax9Y+tvaxtY+tfWztY2sfW/vY2tja2NrY2tja2NrY2tja2NrY2tja2NrY2tja2NrY2tja2NrY2tja2NrY2tja2NrY2tja2NrY2tja2NrY2tja2NrY2tja2NrY2tja2NrY2tja2NrY2tja2NrY2tja2NrY2tja2NrY2tja2NrY2tja2NrY2tja2NrY2tja2NrY2tja2NrY2tja2NrY2tja2NrY2tja2NrY2tja2NrY2tja2NrY2tja2NrY2tja2NrY2tja2NrY2tja2NrY2tja2NrY2tja2NrY2tja2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tpha4etHbZ22Npha4etHbZ22Npha4etHbZ22Npha4etHbZ22Npha4etHbZ22Npha4etHbZ22Npha4etHbZ22Npha4etHbZ22Npha4etHbZ22Npha4etHbZ22Npha4etHbZ22Npha4etHbZ22Npha4etHbZ22Npha4etHbZ22Npha4etHbZ22Npha4etHbZ22Npha4etHbZ22Npha4etHbZ22Npha4etHbZ22Npha4etHbZ22Npha4etHbZ22Npha4etHbZ22Npha4etHbZ22Npha4etHbZ22Npha4etHbZ22Nppa6etnbZ22tppa6etnbZ22tppa6etnbZ22tppa6etnbZ22tppa6etnbZ22tppa6etnbZ22tppa6etnbZ22tppa6etnbZ22tppa6etnbZ22tppa6etnbZ22tppa6etnbZ22tppa6etnbZ22tppa6etnbZ22tppa6etnbZ22tppa6etnbZ22tppa6etnbZ22tppa6etnbZ22tppa6etnbZ22tppa6etnbZ22tppa6etnbZ22tppa6etnbZ22tppa6etnbZ22tppa6etnbZ22tppa6etnbZ22tppa6etnbZ22tpla5etXbZ22dpla5etXbZ22dpla5etXbZ22dpla5etXbZ22dpla5etXbZ22dpla5etXbZ22dpla5etXbZ22dpla5etXbZ22dpla5etXbZ22dpla5etXbZ22dpla5etXbZ22dpla5etXbZ22dpla5etXbZ22dpla5etXbZ22dpla5etXbZ22dpla5etXbZ22dpla5etXbZ22dpla5etXbZ22dpla5etXbZ22dpla5etXbZ22dpla5etXbZ22dpla5etXbZ22dpla5etXbZ22dpla5etXbZ22dpla5etXbZ22dpta7et3bZ229pta7et3bZ229pta7et3bZ229pta7et3bZ229pta7et3bZ229pta7et3bZ229pta7et3bZ229pta7et3bZ229pta7et3bZ229pta7et3bZ229pta7et3bZ229pta7et3bZ229pta7et3bZ229pta7et3bZ229pta7et3bZ229pta7et3bZ229pta7et3bZ229pta7et3bZ229pta7et3bZ229pta7et3bZ229pta7et3bZ229pta7et3bZ229pta7et3bZ229pta7et3bZ229pta7et3bZ229pja4+tPbb22Npja4+tPbb22Npja4+tPbb22Npja4+tPbb22Npja4+tPbb22Npja4+tPbb22Npja4+tPbb22Npja4+tPbb22Npja4+tPbb22Npja4+tPbb22Npja4+tPbb22Npja4+tPbb22Npja4+tPbb22Npja4+tPbb22Npja4+tPbb22Npja4+tPbb22Npja4+tPbb22Npja4+tPbb22Npja4+tPbb22Npja4+tPbb22Npja4+tPbb22Npja4+tPbb22Npja4+tPbb22Npja4+tPbb22Npja4+tPbb22Npra6+tvbb22tpra6+tvbb22tpra6+tvbb22tpra6+tvbb22tpra6+tvbb22tpra6+tvbb22tpra6+tvbb22tpra6+tvbb22tpra6+tvbb22tpra6+tvbb22tpra6+tvbb22tpra6+tvbb22tpra6+tvbb22tpra6+tvbb22tpra6+tvbb22tpra6+tvbb22tpra6+tvbb22tpra6+tvbb22tpra6+tvbb22tpra6+tvbb22tpra6+tvbb22tpra6+tvbb22tpra6+tvbb22tpra6+tvbb22tpra6+tvbZWNyq6UdGNim5UdKOiGxXdqOhGRTcqulHRjYpuVHSjohsV3ajoRkU3KrpR0Y2KblR0o6IbFd2o6EZFNyq6UdGNim5UdKOiGxXdqOhGRTcqulHRjYpuVHSjohsV3ajoRkU3KrpR0Y2KblR0o6IbFd2o6EZFNyq6UdGNim5UdKOiGxXdqOhGRTcqulHRjYpuVHSjohsV3ajoRkU3KrpR0Y2KblR0o6IbFd2o6EZFNyq6UdGNim5UdKOiGxXdqOhGRTcqulHRjYpuVHSjohsV3ajoRkU3KrpR0Y2KblR0o6IbFd2o6EZFNyq6UdGNim5UdKOiGxXdqOhGRTcqulHRjYpuVHSjohsV3ajoRkU3KrpR0Y2KblR0o6IbFd2o6EZFNyq6UdGNim5UdKOiGxXdqOhGRTcqulHRjYpuVHSjohsV3ajoRkU3KrpR0Y2KblR0o6IbFd2o6EZFNyq6UdGNim5UdKOiGxXdqOhGRTcqulHRjYpuVHSjohsV3ajoRkU3KrpR0Y2KblR0o6IbFd2o6EZFNyq6UdGNim5UdKOiGxXdqOhGRTcqulHRjYpuVHSjohsV3ajoRkU3KrpR0Y2KblR0o6IbFd2o6EZFNyq6UdGNim5UdKOiGxXdqOhGRTcqulHRjYpuVHSjohsV3ajoRkU3KrpR0Y2KblR0o6IbFd2o6EZFNyq6UdGNim5UdKOiGxXdqOhGRTcqulHRjYpuVHSjohsV3ajoRkU3KrpR0Y2KblR0o6IbFd2o6EZFNyq6UdGNim5UdKOiGxXdqOhGRTcqulHRjYpuVHSjohsV3ajoRkU3KrpR0Y2KblR0o6IbFd2o6EZFNyq6UdGNim5UdKOiGxXdqOhGRTcqulHRjYpuVHSjohsV3ajoRkU3KrpR0Y2KblR0o6IbFd2o6EZFNyq6UdGNim5UdKOiGxXdqOhGRTcqulHRjYpuVHSjohsV3ajoRkU3KrpR0Y2KblR0o6IbFd2o6EZFNyq6UdGNim5UdKOiGxXdqOhGRTcqulHRjYpuVHSjohsV3ajoRkU3KrpR0Y2KblR0o6IbFd2o6EZFNyq6UdGNim5UdKOiGxXdqOhGRTcqulHRjYpuVHSjohsV3ajoRkU3KrpR0Y2KblR0o6IbFd2o6EZFNyq6UdGNim5UdKOiGxXdqOhGRTcqulHRjYpuVHSjohsV3ajoRkU3KrpR0Y2KblR0o6IbFd2o6EZFNyq6UdGNim5UdKOiGxXdqOhGRTcqulHRjYpuVHSjohsV3ajoRkU3KrpR0Y2KblR0o6IbFd2o6EZFNyq6UdGNim5UdKOiGxXdqOhGRTcqulHRjYpuVHSjohsV3ajoRkU3KrpR0Y2KblR0o6IbFd2o6EZFNyq6UdGNim5UdKOiGxXdqOhGRTcqulHRjYpuVHSjohsV3ajoRkU3KrpR0Y2KblR0o6IbFd2o6EZFNyq6UdGNim5UdKOiGxXdqOhGRTcqulHRjYpuVHSjohsV3ajoRkU3KrpR0Y2KblR0o6IbFd2o6EZFNyq6UdGNim5UdKOiGxXdqOhGRTcqulHRjYpuVHSjohsV3ajoRkU3KrpR0Y2KblR0o6IbFd2o6EZFNyq6UdGNim5UdKOiGxXdqOhGRTcqulHRjYpuVHSjohsV3ajoRkU3KrpR0Y2KblR0o6IbFd2o6EZFNyq6UdGNim5UdKOiGxXdqOhGRTcqulHRjYpuVHSjohsV3ajoRkU3KrpR0Y2KblR0o6IbFd2o6EZFNyq6UdGNim5UdKOiGxXdqOhGRTcqulHRjYpuVHSjohsV3ajoRkU3KrpR0Y2KblR0o6IbFd2o6EZFNyq6UdGNim5UdKOiGxXdqOhGRTcqulHRjYpuVHSjohsV3ajoRkU3KrpR0Y2KblR0o6IbFd2o6EZFNyq6UdGNim5UdKOiGxXdqOhGRTcqulHRjYpuVHSjohsV3ajoRkU3KrpR0Y2KblR0o6IbFd2o6EZFNyq6UdGNim5UdKOiGxXdqOhGRTcqulHRjYpuVHSjohsV3ajoRkU3KrpR0Y2KblR0o6IbFd2o6EZFNyq6UdGNim5UdKOiGxXdqOhGRTcqulHRjYpuVHSjohsV3ajoRkU3KrpR0Y2KblR0o6IbFd2o6EZFNyq6UdGNim5UdKOiGxXdqOhGRTcqulHRjYpuVHSjohsV3ajoRkU3KrpR0Y2KblR0o6IbFd2o6EZFNyq6UdGNim5UdKOiGxXdqOhGRTcqulHRjYpuVHSjohsV3ajoRkU3KrpR0Y2KblR0o6IbFd2o6EZFNyq6UdGNim5UdKOiGxXdqOhGRTcqulHRjYpuVHSjohsV3ajoRkU3KrpR0Y2KblR0o6IbFd2o6EZFNyq6UdGNim5UdKOiGxXdqOhGRTcqulHRjYpuVHSjohsV3ajoRkU3KrpR0Y2KblR0o6IbFd2o6EZFNyq6UdGNim5UdKOiGxXdqOhGRTcqulHRjYpuVHSjohsV3ajoRkU3KrpR0Y2KblR0o6IbFd2o6EZFNyq6UdGNim5UdKOiGxXdqOhGRTcqulHRjYpuVHSjohsV3ajoRkU3KrpR0Y2KblR0o6IbFd2o6EZFNyq6UdGNim5UdKOiGxXdqOhGRTcqulHRjYpuVHSjohsV3ajoRkU3KrpR0Y2KblR0o6IbFd2o6EZFNyq6UdGNim5UdKOiGxXdqOhGRTcqulHRjYpuVHSjohsV3ajoRkU3KrpR0Y2KblR0o6IbFd2o6EZFNyq6UdGNim5UdKOiGxXdqOhGRTcqulHRjYpuVHSjohsV3ajoRkU3KrpR0Y2KblR0o6IbFd2o6EZFNyq6UdGNim5UdKOiGxXdqOhGRTcqulHRjYpuVHSjohsV3ajoRkU3KrpR0Y2KblR0o6IbFd2o6EZFNyq6UdGNim5UdKOiGxXdqOhGRTcqulHRjYpuVHSjohsV3ajoRkU3KrpR0Y2KblR0o6IbFd2o6EZFNyq6UdGNim5UdKOiGxXdqOhGRTcqulHRjYpuVHSjohsV3ajoRkU3KrpR0Y2KblR0o6IbFd2o6EZFNyq6UdGNim5UdKOiGxXdqOhGRTcqulHRjYpuVHSjohsV3ajoRkU3KrpR0Y2KblR0o6IbFd2o6EZFNyq6UdGNim5UdKOiGxXdqOhGRTcqulHRjYpuVHSjohsV3ajoRkU3qrpR1Y2qblR1o6obVd2o6kZVN6q6UdWNqm5UdaOqG1XdqOpGVTequlHVjapuVHWjqhtV3ajqRlU3qrpR1Y2qblR1o6obVd2o6kZVN6q6UdWNqm5UdaOqG1XdqOpGVTequlHVjapuVHWjqhtV3ajqRlU3qrpR1Y2qblR1o6obVd2o6kZVN6q6UdWNqm5UdaOqG1XdqOpGVTequlHVjapuVHWjqhtV3ajqRlU3qrpR1Y2qblR1o6obVd2o6kZVN6q6UdWNqm5UdaOqG1XdqOpGVTequlHVjapuVHWjqhtV3ajqRlU3qrpR1Y2qblR1o6obVd2o6kZVN6q6UdWNqm5UdaOqG1XdqOpGVTequlHVjapuVHWjqhtV3ajqRlU3qrpR1Y2qblR1o6obVd2o6kZVN6q6UdWNqm5UdaOqG1XdqOpGVTequlHVjapuVHWjqhtV3ajqRlU3qrpR1Y2qblR1o6obVd2o6kZVN6q6UdWNqm5UdaOqG1XdqOpGVTequlHVjapuVHWjqhtV3ajqRlU3qrpR1Y2qblR1o6obVd2o6kZVN6q6UdWNqm5UdaOqG1XdqOpGVTequlHVjapuVHWjqhtV3ajqRlU3qrpR1Y2qblR1o6obVd2o6kZVN6q6UdWNqm5UdaOqG1XdqOpGVTequlHVjapuVHWjqhtV3ajqRlU3qrpR1Y2qblR1o6obVd2o6kZVN6q6UdWNqm5UdaOqG1XdqOpGVTequlHVjapuVHWjqhtV3ajqRlU3qrpR1Y2qblR1o6obVd2o6kZVN6q6UdWNqm5UdaOqG1XdqOpGVTequlHVjapuVHWjqhtV3ajqRlU3qrpR1Y2qblR1o6obVd2o6kZVN6q6UdWNqm5UdaOqG1XdqOpGVTequlHVjapuVHWjqhtV3ajqRlU3qrpR1Y2qblR1o6obVd2o6kZVN6q6UdWNqm5UdaOqG1XdqOpGVTequlHVjapuVHWjqhtV3ajqRlU3qrpR1Y2qblR1o6obVd2o6kZVN6q6UdWNqm5UdaOqG1XdqOpGVTequlHVjapuVHWjqhtV3ajqRlU3qrpR1Y2qblR1o6obVd2o6kZVN6q6UdWNqm5UdaOqG1XdqOpGVTequlHVjapuVHWjqhtV3ajqRlU3qrpR1Y2qblR1o6obVd2o6kZVN6q6UdWNqm5UdaOqG1XdqOpGVTequlHVjapuVHWjqhtV3ajqRlU3qrpR1Y2qblR1o6obVd2o6kZVN6q6UdWNqm5UdaOqG1XdqOpGVTequlHVjapuVHWjqhtV3ajqRlU3qrpR1Y2qblR1o6obVd2o6kZVN6q6UdWNqm5UdaOqG1XdqOpGVTequlHVjapuVHWjqhtV3ajqRlU3qrpR1Y2qblR1o6obVd2o6kZVN6q6UdWNqm5UdaOqG1XdqOpGVTequlHVjapuVHWjqhtV3ajqRlU3qrpR1Y2qblR1o6obVd2o6kZVN6q6UdWNqm5UdaOqG1XdqOpGVTequlHVjapuVHWjqhtV3ajqRlU3qrpR1Y2qblR1o6obVd2o6kZVN6q6UdWNqm5UdaOqG1XdqOpGVTequlHVjapuVHWjqhtV3ajqRlU3qrpR1Y2qblR1o6obVd2o6kZVN6q6UdWNqm5UdaOqG1XdqOpGVTequlHVjapuVHWjqhtV3ajqRlU3qrpR1Y2qblR1o6obVd2o6kZVN6q6UdWNqm5UdaOqG1XdqOpGVTequlHVjapuVHWjqhtV3ajqRlU3qrpR1Y2qblR1o6obVd2o6kZVN6q6UdWNqm5UdaOqG1XdqOpGVTequlHVjapuVHWjqhtV3ajqRlU3qrpR1Y2qblR1o6obVd2o6kZVN6q6UdWNqm5UdaOqG1XdqOpGVTequlHVjapuVHWjqhtV3ajqRlU3qrpR1Y2qblR1o6obVd2o6kZVN6q6UdWNqm5UdaOqG1XdqOpGVTequlHVjapuVHWjqhtV3ajqRlU3qrpR1Y2qblR1o6obVd2o6kZVN6q6UdWNqm5UdaOqG1XdqOpGVTequlHVjapuVHWjqhtV3ajqRlU3qrpR1Y2qblR1o6obVd2o6kZVN6q6UdWNqm5UdaOqG1XdqOpGVTequlHVjapuVHWjqhtV3ajqRlU3qrpR1Y2qblR1o6obVd2o6kZVN6q6UdWNqm5UdaOqG1XdqOpGVTequlHVjapuVHWjqhtV3ajqRlU3qrpR1Y2qblR1o6obVd2o6kZVN6q6UdWNqm5UdaOqG1XdqOpGVTequlHVjapuVHWjqhtV3ajqRlU3qrpR1Y2qblR1o6obVd2o6kZVN6q6UdWNqm5UdaOqG1XdqOpGVTequlHVjapuVHWjqhtV3ajqRlU3qrpR1Y2qblR1o6obVd2o6kZVN6q6UdWNqm5UdaOqG1XdqOpGVTequlHVjapuVHWjqhtV3ajqRlU3qrpR1Y2qblR1o6obVd2o6kZVN6q6UdWNqm5UdaOqG1XdqOpGVTequlHVjapuVHWjqhtV3ajqRlU3qrpR1Y2qblR1o6obVd2o6kZVN6q6UdWNqm5UdaOqG1XdqOpGVTequlHVjapuVHWjqhtV3ajqRlU3qrpR1Y2qblR1o6obVd2o6kZVN6q6UdWNqm5UdaOqG1XdqOpGVTequlHVjapuVHWjqhtV3ajqRlU3qrpR1Y2qblR1o6obVd2o6kZVN6q6UdWNqm5UdaOqG1XdqOpGVTequlHVjapuVHWjqhtV3ajqRlU3qrpR1Y2qblR1o6obVd2o6kZVN6q6UdWNqm5UdaOqG1XdqOpGVTequlHVjapuVHWjqhtV3ajqRlU3qrpR1Y2qblR1o6obVd2o6kZVN6q6UdWNqm5UdaOqG1XdqOpGVTequlHVjapuVHWjqhtV3ajqRlU3qrpR1Y2qblR1o6obVd2o6kZVN6q6UdWNqm5UdaOqG1XdqOpGVTequlHVjapuVHWjqhtV3ajqRlU3qrpR1Y2qblR1o6obVd2o6kZVN6q6UdWNqm5UdaOqG1XdqOpGVTequlHVjapuVHWjqhtV3ajqRlU3qrpR1Y2qblR1o6obVd2o6kZVN6q6UdWNqm5UdaOqG1XdqOpGVTequlHVjapuVHWjqhtV3ajqRlU3qrpR1Y2qblR1o6obVd2o6kZVN6q6UdWNqm5UdaOqG1XdqOpG9Wc36j9+9be/+fLrX/2/z/888m+/+vrrL7/5i//63fef//33n76Or5/69Yf/5vcpn/Z33+1PX7/m4/jwPN//1jq//23g+39HfN4f19MvH76sOT493/+Zfvh4Pnz97vn4cXw+Xz98Wp8+7/H9D/fjd5++ftifvnxeHz/ez/P7n0++fN6fv/s6++m7fPdx9vPzfPmwPuU8n79+PP8LlUz0ig=='],
  ['login-42-objects', false, 'iqpfcGVybWFuZW50w6hfdXNlcl9pZKI0MqZfZnJlc2jDo19pZNmAY2Y0ZmMzZjMyNDhjMmM3MDA3Y2ZmMmI0YTExODA0NTg0MDg5MWQ3YjYxM2VhZTY1NGMxMDA3M2FiOGFmMDFiYjRkOGZhYzZjZDc0NzAwM2IwY2ZhN2NlZDZiYjlkNTU4NDIyZWQ3ZDBmNTNjMDIwYjUzZDExZWE2YzI4MWRmYjipbGFzdF9zZWVu1/+8HL0Aaw1tcKRuYW1lqVpvw6sg8J+YgKVyb2xlc5KlYWRtaW6jZGV2pXNjb3Jlyz/gAAAAAAAAo2JpZ8///////////6dub3RoaW5nwA=='],
  ['login-int-42', false, 'hKpfcGVybWFuZW50w6hfdXNlcl9pZCqmX2ZyZXNow6NfaWTZgGNmNGZjM2YzMjQ4YzJjNzAwN2NmZjJiNGExMTgwNDU4NDA4OTFkN2I2MTNlYWU2NTRjMTAwNzNhYjhhZjAxYmI0ZDhmYWM2Y2Q3NDcwMDNiMGNmYTdjZWQ2YmI5ZDU1ODQyMmVkN2QwZjUzYzAyMGI1M2QxMWVhNmMyODFkZmI4'],
  ['login-u-42', false, 'hKpfcGVybWFuZW50w6hfdXNlcl9pZKR1LTQypl9mcmVzaMOjX2lk2YBjZjRmYzNmMzI0OGMyYzcwMDdjZmYyYjRhMTE4MDQ1ODQwODkxZDdiNjEzZWFlNjU0YzEwMDczYWI4YWYwMWJiNGQ4ZmFjNmNkNzQ3MDAzYjBjZmE3Y2VkNmJiOWQ1NTg0MjJlZDdkMGY1M2MwMjBiNTNkMTFlYTZjMjgxZGZiOA=='],
  ['login-420', false, 'hKpfcGVybWFuZW50w6hfdXNlcl9pZKM0MjCmX2ZyZXNow6NfaWTZgGNmNGZjM2YzMjQ4YzJjNzAwN2NmZjJiNGExMTgwNDU4NDA4OTFkN2I2MTNlYWU2NTRjMTAwNzNhYjhhZjAxYmI0ZDhmYWM2Y2Q3NDcwMDNiMGNmYTdjZWQ2YmI5ZDU1ODQyMmVkN2QwZjUzYzAyMGI1M2QxMWVhNmMyODFkZmI4'],
  ['login-042', false, 'hKpfcGVybWFuZW50w6hfdXNlcl9pZKMwNDKmX2ZyZXNow6NfaWTZgGNmNGZjM2YzMjQ4YzJjNzAwN2NmZjJiNGExMTgwNDU4NDA4OTFkN2I2MTNlYWU2NTRjMTAwNzNhYjhhZjAxYmI0ZDhmYWM2Y2Q3NDcwMDNiMGNmYTdjZWQ2YmI5ZDU1ODQyMmVkN2QwZjUzYzAyMGI1M2QxMWVhNmMyODFkZmI4'],
  ['browser-session-42', false, 'hKpfcGVybWFuZW50wqhfdXNlcl9pZKI0MqZfZnJlc2jDo19pZNmAY2Y0ZmMzZjMyNDhjMmM3MDA3Y2ZmMmI0YTExODA0NTg0MDg5MWQ3YjYxM2VhZTY1NGMxMDA3M2FiOGFmMDFiYjRkOGZhYzZjZDc0NzAwM2IwY2ZhN2NlZDZiYjlkNTU4NDIyZWQ3ZDBmNTNjMDIwYjUzZDExZWE2YzI4MWRmYjg='],
  ['permanent-config-false-42', false, 'g6hfdXNlcl9pZKI0MqZfZnJlc2jDo19pZNmAY2Y0ZmMzZjMyNDhjMmM3MDA3Y2ZmMmI0YTExODA0NTg0MDg5MWQ3YjYxM2VhZTY1NGMxMDA3M2FiOGFmMDFiYjRkOGZhYzZjZDc0NzAwM2IwY2ZhN2NlZDZiYjlkNTU4NDIyZWQ3ZDBmNTNjMDIwYjUzZDExZWE2YzI4MWRmYjg='],
  ['logged-out', false, 'gapfcGVybWFuZW50ww=='],
  ['anonymous-cart', false, 'g6pfcGVybWFuZW50w6RjYXJ0k4Kjc2t1o0EtMKNxdHkBgqNza3WjQS0xo3F0eQGCo3NrdaNBLTKjcXR5AaZsb2NhbGWiZW4='],
  ['expired-42', false, 'hKpfcGVybWFuZW50w6hfdXNlcl9pZKI0MqZfZnJlc2jDo19pZNmAY2Y0ZmMzZjMyNDhjMmM3MDA3Y2ZmMmI0YTExODA0NTg0MDg5MWQ3YjYxM2VhZTY1NGMxMDA3M2FiOGFmMDFiYjRkOGZhYzZjZDc0NzAwM2IwY2ZhN2NlZDZiYjlkNTU4NDIyZWQ3ZDBmNTNjMDIwYjUzZDExZWE2YzI4MWRmYjg='],
]

/*
 * Every msgpack type python3-msgpack 1.0.3 writes (use_bin_type=True):
 *
 *   from msgpack import Timestamp, ExtType
 *   d = {
 *     'ints': [0, 127, 128, 255, 256, 65535, 65536, 2**32-1, 2**32, 2**53, 2**53+1, 2**64-1, -1, -32, -33, -128, -129,
 *              -32768, -32769, -2**31, -2**31-1, -2**53-1, -2**63],
 *     'floats': [0.5, 3.141592653589793, -0.0, float('inf'), 1e300],
 *     'bin': b'\x00\x01\xff', 'bin16': b'x' * 300,
 *     'str8': 'a' * 40, 'str16': 'b' * 300, 'unicode': 'Zo\u00eb \U0001F600', 'empty': '',
 *     'ext': ExtType(5, b'abc'), 'fixext16': ExtType(7, b'0123456789abcdef'),
 *     'ts4': Timestamp(1700000000, 0), 'ts8': Timestamp(1700000000, 123456000), 'ts8ns': Timestamp(1700000000, 123456789),
 *     'ts12': Timestamp(-1, 5), 'ts-far': Timestamp(300000000000, 0),
 *     'nested': {'a': [1, [2, {'b': None}]], 't': True, 'f': False},
 *     'map16': {f'k{i}': i for i in range(20)},
 *     1: 'int key', -5: 'negative int key', b'\xffraw': 'bytes key', (1, 'a'): 'tuple key', None: 'nil key',
 *     True: 'bool key', 1.5: 'float key',
 *     '__proto__': {'polluted': True}, 'constructor': {'prototype': {'polluted': True}},
 *   }
 *   msgpack.packb(d, use_bin_type=True); msgpack.packb([0.5, 1.25, -2.0], use_single_float=True)
 */
const TYPES = '3gAZpGludHPcABcAf8yAzP/NAQDN///OAAEAAM7/////zwAAAAEAAAAAzwAgAAAAAAAAzwAgAAAAAAABz////////////+DQ39CA0f9/0YAA0v//f//SgAAAANP/////f////9P/3////////9OAAAAAAAAAAKZmbG9hdHOVyz/gAAAAAAAAy0AJIftURC0Yy4AAAAAAAAAAy3/wAAAAAAAAy3435DyIAHWco2JpbsQDAAH/pWJpbjE2xQEseHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4pHN0cjjZKGFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWGlc3RyMTbaASxiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmKndW5pY29kZalab8OrIPCfmIClZW1wdHmgo2V4dMcDBWFiY6hmaXhleHQxNtgHMDEyMzQ1Njc4OWFiY2RlZqN0czTW/2VT8QCjdHM41/8dbygAZVPxAKV0czhuc9f/HW80VGVT8QCkdHMxMscM/wAAAAX//////////6Z0cy1mYXLHDP8AAAAAAAAARdlkuACmbmVzdGVkg6FhkgGSAoGhYsChdMOhZsKlbWFwMTbeABSiazAAomsxAaJrMgKiazMDoms0BKJrNQWiazYGoms3B6JrOAiiazkJo2sxMAqjazExC6NrMTIMo2sxMw2jazE0DqNrMTUPo2sxNhCjazE3EaNrMTgSo2sxORMBqGJvb2wga2V5+7BuZWdhdGl2ZSBpbnQga2V5xAT/cmF3qWJ5dGVzIGtleZIBoWGpdHVwbGUga2V5wKduaWwga2V5yz/4AAAAAAAAqWZsb2F0IGtlealfX3Byb3RvX1+BqHBvbGx1dGVkw6tjb25zdHJ1Y3RvcoGpcHJvdG90eXBlgahwb2xsdXRlZMM='
const FLOAT32 = 'k8o/AAAAyj+gAADKwAAAAA=='

const b64 = (text: string): Buffer => Buffer.from(text, 'base64')
const bytes = (...b: number[]): Uint8Array => new Uint8Array(b)
const flaskMsgpack = (compressed: boolean, text: string): Buffer => (compressed ? inflateSync(b64(text)) : b64(text))

/** What a flask.json case's msgpack form should read as: its expected data with the generator's two changes. */
function expectedData(data: Record<string, unknown>): Record<string, unknown> {
  return 'big' in data ? {...data, big: (2n ** 64n) - 1n} : data
}

describe('parseMsgpack', () => {
  describe('Flask-Session session dicts (flask.json, as msgpack)', () => {
    it('has one msgpack form per named case', () => {
      assert.deepEqual(FLASK_MSGPACK.map(([name]) => name).sort(), [...new Set(cases.map(c => c.name))].sort())
    })

    for (const [name, compressed, text] of FLASK_MSGPACK) {
      it(`reads ${name}`, () => {
        const packed = flaskMsgpack(compressed, text)
        assert.ok(isMsgpackMap(packed[0]), 'oversized.ts sniffs it as a msgpack map')
        const value = parseMsgpack(packed) as Record<string, unknown>
        assert.equal(Object.getPrototypeOf(value), null)
        const c = cases.find(x => x.name === name)!
        const userId = value._user_id
        assert.equal(userId === undefined ? null : String(userId), c.expect.userId)
        if (c.expect.data === null) {
          assert.deepEqual(Object.keys(value), c.expect.dataKeys)
          assert.equal((value.cart as unknown[]).length, 4000) // the Redis case's cart
          assert.deepEqual(plain((value.cart as unknown[])[0]), c.expect.cartFirst)
        } else {
          assert.deepEqual(plain(value), expectedData(c.expect.data))
        }
      })
    }

    it('reads the pickles Flask-Session 0.3.2 wrote (the legacy fallback), with the same users', () => {
      for (const c of cases) {
        const value = parsePickle(b64(c.valueBase64)) as Record<string, unknown>
        const userId = value._user_id
        assert.equal(userId === undefined ? null : String(userId), c.expect.userId, c.name)
        if (c.expect.data === null) {
          assert.equal((value.cart as unknown[]).length, c.expect.cartLength, c.name)
        } else {
          const data = plain(value) as Record<string, unknown>
          // JSON cannot hold 2**70 exactly: the fixture's number is its nearest double.
          if (typeof data.big === 'bigint') data.big = Number(data.big)
          assert.deepEqual(data, c.expect.data, c.name)
        }
      }
    })
  })

  describe('every type', () => {
    const value = parseMsgpack(b64(TYPES)) as Record<string, unknown>

    it('reads ints of every width, bigints beyond 2^53', () => {
      assert.deepEqual(value.ints, [
        0,
        127,
        128,
        255,
        256,
        65_535,
        65_536,
        (2 ** 32) - 1,
        2 ** 32,
        2n ** 53n,
        (2n ** 53n) + 1n,
        (2n ** 64n) - 1n,
        -1,
        -32,
        -33,
        -128,
        -129,
        -32_768,
        -32_769,
        -(2 ** 31),
        -(2 ** 31) - 1,
        -(2n ** 53n) - 1n,
        -(2n ** 63n),
      ])
    })

    it('reads floats, float32 included', () => {
      assert.deepEqual(value.floats, [0.5, Math.PI, -0, Infinity, 1e300])
      assert.ok(Object.is((value.floats as number[])[2], -0))
      assert.deepEqual(parseMsgpack(b64(FLOAT32)), [0.5, 1.25, -2])
      assert.equal(b64(FLOAT32)[1], 0xCA)
    })

    it('reads str as UTF-8 and bin as bytes', () => {
      assert.equal(value.str8, 'a'.repeat(40))
      assert.equal(value.str16, 'b'.repeat(300))
      assert.equal(value.unicode, 'Zoë 😀')
      assert.equal(value.empty, '')
      assert.deepEqual(value.bin, bytes(0, 1, 0xFF))
      assert.deepEqual(value.bin16, new Uint8Array(300).fill(0x78))
    })

    it('reads timestamps as isoformat() text, other extensions as inert values', () => {
      assert.equal(value.ts4, '2023-11-14T22:13:20+00:00')
      assert.equal(value.ts8, '2023-11-14T22:13:20.123456+00:00')
      assert.equal(value.ts8ns, '2023-11-14T22:13:20.123456789+00:00')
      assert.equal(value.ts12, '1969-12-31T23:59:59.000000005+00:00')
      assert.deepEqual(value['ts-far'], {__class__: 'msgpack.Timestamp', nanoseconds: 0, seconds: 300_000_000_000})
      assert.deepEqual(value.ext, {__class__: 'msgpack.ext', data: bytes(0x61, 0x62, 0x63), type: 5})
      assert.deepEqual(value.fixext16, {__class__: 'msgpack.ext', data: new Uint8Array(Buffer.from('0123456789abcdef')), type: 7})
    })

    it('reads maps as null-prototype objects, keys as text', () => {
      assert.deepEqual(plain(value.nested), {a: [1, [2, {b: null}]], f: false, t: true})
      assert.equal(Object.keys(value.map16 as object).length, 20)
      // Python: True == 1, so {1: 'int key', True: 'bool key'} kept key 1 with the later value.
      assert.equal(value['1'], 'bool key')
      assert.equal(value['-5'], 'negative int key')
      assert.equal(value['\u00FFraw'], 'bytes key')
      assert.equal(value["(1, 'a')"], 'tuple key')
      assert.equal(value.None, 'nil key')
      assert.equal(value['1.5'], 'float key')
    })

    it('keeps __proto__ and constructor keys as own data', () => {
      assert.ok(Object.hasOwn(value, '__proto__'))
      assert.equal(Object.getPrototypeOf(value), null)
      assert.deepEqual(plain(value.constructor), {prototype: {polluted: true}})
      assert.equal(({} as Record<string, unknown>).polluted, undefined)
    })
  })

  describe('hand-written values', () => {
    it('reads the 32-bit length forms', () => {
      assert.equal(parseMsgpack(hex('db00000002 6869')), 'hi')
      assert.deepEqual(parseMsgpack(hex('c600000001 ff')), bytes(0xFF))
      assert.deepEqual(parseMsgpack(hex('dd00000002 c0c3')), [null, true])
      assert.deepEqual(plain(parseMsgpack(hex('df00000001 a161 c2'))), {a: false})
      assert.deepEqual(parseMsgpack(hex('c900000002 09 6869')), {__class__: 'msgpack.ext', data: bytes(0x68, 0x69), type: 9})
      assert.deepEqual(parseMsgpack(hex('c80001 f6 00')), {__class__: 'msgpack.ext', data: bytes(0), type: -10})
      // A timestamp of an unusual length is an inert ext; nanoseconds over 10^9 an inert Timestamp.
      assert.deepEqual(parseMsgpack(hex('c702ff 0000')), {__class__: 'msgpack.ext', data: bytes(0, 0), type: -1})
      assert.deepEqual(parseMsgpack(hex('d7ff fffffffc 00000000')), {__class__: 'msgpack.Timestamp', nanoseconds: 1_073_741_823, seconds: 0})
    })

    it('refuses what msgspec and msgpack-python refuse, with limit false', () => {
      throwsMsgpack(hex(''), false, /truncated/)
      throwsMsgpack(hex('c1'), false, /never used/)
      throwsMsgpack(hex('a2ff'), false, /truncated/)
      throwsMsgpack(hex('a2fffe'), false, /UTF-8/)
      throwsMsgpack(hex('81 a161'), false, /truncated/)
      throwsMsgpack(hex('c0c0'), false, /trailing/)
      throwsMsgpack(hex('81 80 c0'), false, /unhashable/)
      throwsMsgpack(hex('dbffffffff'), false, /truncated/)
      throwsMsgpack(hex('ddffffffff'), false, /truncated/)
      throwsMsgpack(hex('dfffffffff'), false, /truncated/)
      throwsMsgpack(hex('c9ffffffff01'), false, /truncated/)
    })

    it('refuses what is over its limits, with limit true', () => {
      throwsMsgpack(hex('c0'), true, /maxBytes/, {maxBytes: 0})
      throwsMsgpack(Buffer.concat([Buffer.alloc(300, 0x91), hex('c0')]), true, /deeper/)
      throwsMsgpack(hex('9191c0'), true, /deeper/, {maxDepth: 1})
      throwsMsgpack(hex('95c0c0c0c0c0'), true, /maxItems/, {maxItems: 5})
      throwsMsgpack(Buffer.concat([hex('81'), Buffer.alloc(20, 0x91), hex('c0 c0')]), true, /array key/)
    })

    it('throws only MsgpackError on non-bytes', () => {
      assert.throws(() => parseMsgpack([0xC0] as unknown as Uint8Array), MsgpackError)
    })
  })
})
