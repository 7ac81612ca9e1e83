// The browser test page: the package, Uppy's Dashboard and Golden Retriever with the plugin, bundled by esbuild.
import Uppy from '@uppy/core'
import Dashboard from '@uppy/dashboard'
import GoldenRetriever from '@uppy/golden-retriever'
import '@uppy/core/css/style.min.css'
import '@uppy/dashboard/css/style.min.css'
import * as client from '../../dist/index.js'
import MultipartUpload from '../../dist/uppy.js'

window.client = client
window.Uppy = Uppy
window.Dashboard = Dashboard
window.GoldenRetriever = GoldenRetriever
window.MultipartUpload = MultipartUpload
window.pageReady = true
